"""Line roles and metadata on pages never written for this project: the corpus-dev articles
(labelled by hand in fixtures/), the seeds, and datelines in many formats."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rag.eval.layout import score_fixture
from rag.ingest import load_corpus
from rag.ingest.dates import date_mentions, is_dateline, page_dates, parse_date
from rag.ingest.layout import analyse_page
from rag.types import INDEXED_ROLES, Role
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_DEV = ROOT / "eval" / "corpus-dev" / "articles"


def test_furniture_fixture_precision_and_recall() -> None:
    scores = score_fixture(FIXTURES / "furniture.json", ROOT)
    for group, score in scores.items():
        assert score.precision >= 0.95 and score.recall >= 0.95, (group, score.mistakes)
        assert score.role_accuracy >= 0.95, (group, score.mistakes)


def test_titles_outlets_authors_and_dates_of_corpus_dev() -> None:
    expected = json.loads((FIXTURES / "metadata.json").read_text(encoding="utf-8"))
    docs = {d.doc_id: d for d in load_corpus(CORPUS_DEV)}
    for name, want in expected.items():
        if name.startswith("_"):
            continue
        doc = docs[name]
        got = {
            "title": doc.title,
            "outlet": doc.outlet,
            "authors": list(doc.authors),
            "date": doc.date,
            "updated": doc.updated,
        }
        assert got == want, name


@pytest.mark.parametrize(
    ("line", "published", "updated"),
    [
        ("2024-02-13 07:42 ET", "2024-02-13", None),
        ("Published 4 April 2024 09:15 CEST", "2024-04-04", None),
        ("21/06/2024 - 18:05", "2024-06-21", None),
        ("Sept. 5, 2025", "2025-09-05", None),
        ("Tue, Mar 4, 2025, 6:30 PM", "2025-03-04", None),
        ("Posted on 3rd March 2025", "2025-03-03", None),
        (
            "Published 11 July 2024 22:40 CEST | Updated 12 July 2024 08:10 CEST",
            "2024-07-11",
            "2024-07-12",
        ),
        ("Updated 12 July 2024 08:10 | 3 days ago", "2024-07-09", "2024-07-12"),
        ("2 hours ago", None, None),  # no update date to resolve it against: unknown
    ],
)
def test_datelines_in_common_formats(line: str, published: str | None, updated: str | None) -> None:
    assert is_dateline(line)
    assert page_dates(date_mentions(line)) == type(page_dates([]))(published, updated)


def test_prose_with_dates_is_no_dateline() -> None:
    assert not is_dateline("The summit opened on July 9, 2024 in Washington.")
    assert not is_dateline("By July 2024 the jets had arrived")
    assert parse_date("3 days ago") is None
    assert parse_date("3 days ago", datetime(2024, 7, 12)) == datetime(2024, 7, 9)


UNSEEN_PAGE = """\
Skip to main content
MORNING HERALD
News  ›  World  ›  Europe
Log in   Create an account

Kyiv receives the first batch of long-range drones from its partners

Last updated: 14 May 2025
Words: Anna Keller and Jonah Ruiz

Story continues below advertisement

Kyiv received the first batch of long-range drones from a group of partners on Tuesday, \
its defence ministry said.
Officials declined to say how many had arrived, citing security.

Pictured: A drone on display at a trade fair in Kyiv. (Reuters)

Recommended for you
Why drones matter
Ukraine's new air force chief

Leave a comment
Accept cookies to view this content.
Copyright 2025 Morning Herald Ltd
"""


def test_an_unseen_page_layout() -> None:
    layout = analyse_page(UNSEEN_PAGE)
    roles = {UNSEEN_PAGE[r.start : r.end].strip()[:20]: r.role for r in layout.roles}
    assert layout.title == "Kyiv receives the first batch of long-range drones from its partners"
    assert layout.outlet == "Morning Herald"
    assert layout.authors == ["Anna Keller", "Jonah Ruiz"]
    assert layout.dates.updated == "2025-05-14"
    body = [text for text, role in roles.items() if role is Role.BODY]
    assert body == ["Kyiv received the fi", "Officials declined t"]
    assert roles["Words: Anna Keller a"] is Role.BYLINE
    assert roles["Story continues belo"] is Role.ADVERT
    assert roles["Pictured: A drone on"] is Role.CAPTION
    assert roles["Why drones matter"] is Role.RELATED


def test_a_list_item_is_prose_only_when_written_as_a_sentence() -> None:
    items = [
        ("Another outlet's reporter wrote that the alliance is creating a new command.", True),
        ("Timeline: 187 days from request to signature", False),  # a link
        ("What the end of the Membership Action Plan means for Kyiv now", False),  # no stop
        ("Who are the 22 Republicans who backed the package in the end?", False),  # a teaser
        ("Explainer: how the old commission worked, and why it was replaced.", False),
        ("Photo: Ukrainian soldiers train on a Leopard tank near the front line.", False),
        ("Short item.", False),
    ]
    text = "Headline of the page here\n\n"
    text += "The first paragraph of the article, long enough to count as its prose.\n\n"
    text += "".join(f"  • {item}\n" for item, _ in items)
    roles = analyse_page(text).roles[2:]
    assert len(roles) == len(items)
    for (item, prose), role in zip(items, roles, strict=True):
        if prose:
            assert role.role is Role.BODY, item
            assert text[role.start : role.end] == item  # the span starts after the bullet
        else:
            assert role.role not in INDEXED_ROLES, (item, role.role)


def test_a_prose_item_under_a_related_heading_stays_related() -> None:
    text = (
        "Headline of the page here\n\n"
        "The first paragraph of the article, long enough to count as its prose.\n\n"
        "Related coverage\n"
        "  • Allies agreed on a new mission for Ukraine at the summit last week.\n"
    )
    assert analyse_page(text).roles[-1].role is Role.RELATED
