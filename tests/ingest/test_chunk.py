from __future__ import annotations

import itertools

import pytest

from rag.ingest import chunk_corpus, load_corpus, split_sentences
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def corpus():
    docs = load_corpus(SEEDS)
    sentences, chunks = chunk_corpus(docs, 3, 1)
    return {d.doc_id: d for d in docs}, sentences, chunks


def test_every_sentence_and_chunk_quotes_its_file_exactly(corpus) -> None:
    docs, sentences, chunks = corpus
    files = {name: (SEEDS / name).read_text(encoding="utf-8") for name in docs}
    for s in sentences:
        assert files[s.doc_id][s.start : s.end] == s.text
        assert s.text == s.text.strip()
    for c in chunks:
        assert files[c.doc_id][c.start : c.end] == c.text
        members = [sentences[i] for i in c.sentence_ids]
        assert members[0].start == c.start and members[-1].end == c.end


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "On Dec. 3-4, NATO foreign ministers are meeting in Brussels. Blinken will attend.",
            [
                "On Dec. 3-4, NATO foreign ministers are meeting in Brussels.",
                "Blinken will attend.",
            ],
        ),
        (
            "At NATO on Thursday, U.S. Defense Secretary Lloyd Austin spoke. He stressed it.",
            ["At NATO on Thursday, U.S. Defense Secretary Lloyd Austin spoke.", "He stressed it."],
        ),
        (
            "The staff will report to Army Gen. Christopher Cavoli, NATO’s top commander. Next.",
            [
                "The staff will report to Army Gen. Christopher Cavoli, NATO’s top commander.",
                "Next.",
            ],
        ),
        (
            "Concerns center on replacing Sec. Austin, who hosts the meetings. Then more.",
            ["Concerns center on replacing Sec. Austin, who hosts the meetings.", "Then more."],
        ),
        (
            "NATO officials prepare for a possible U.S. withdrawal. “Europe must act,” he said.",
            [
                "NATO officials prepare for a possible U.S. withdrawal.",
                "“Europe must act,” he said.",
            ],
        ),
    ],
)
def test_abbreviations_do_not_split_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == expected


def test_offsets_are_shifted_and_repeated_sentences_found_in_order() -> None:
    text = "Yes. Yes. No."
    spans = split_sentences(text, offset=100)
    assert [(s.start, s.end) for s in spans] == [(100, 104), (105, 109), (110, 113)]


def test_chunks_overlap_by_the_configured_sentences(corpus) -> None:
    _, _, chunks = corpus
    same_doc = [(a, b) for a, b in itertools.pairwise(chunks) if a.doc_id == b.doc_id]
    overlapping = [a for a, b in same_doc if set(a.sentence_ids) & set(b.sentence_ids)]
    assert overlapping, "windows should share sentences"
    for a, b in same_doc:
        assert len(set(a.sentence_ids) & set(b.sentence_ids)) <= 1
        assert len(a.sentence_ids) <= 3


def test_paragraph_broken_mid_sentence_is_rejoined(corpus) -> None:
    _, sentences, _ = corpus
    joined = [s for s in sentences if "Moscow’s aggression" in s.text]
    assert joined and "elsewhere in Europe and even beyond." in joined[0].text
