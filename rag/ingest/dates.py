"""Dates in datelines: find the date expressions on a line and read them with `dateparser`.

A dateline is a line with nothing but dates, times, time zones and words such as
"Published" or "Updated" ("2024-02-13 07:42 ET", "Published 4 April 2024 09:15 CEST",
"21/06/2024 - 18:05", "2 hours ago"). Relative expressions ("3 days ago") only mean something
against the page's own timestamp: they are resolved against an update date when the page
gives one, and otherwise left unknown rather than guessed from today's clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from rag.text.wordlists import MONTH_ABBREVIATIONS, MONTH_NAMES, WEEKDAY_NAMES

_MONTH = (
    rf"(?:{'|'.join(MONTH_NAMES)}|(?:{'|'.join(m.capitalize() for m in MONTH_ABBREVIATIONS)})\.?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_WEEKDAY = (
    rf"(?:(?:{'|'.join(WEEKDAY_NAMES)}|(?:{'|'.join(d[:3] for d in WEEKDAY_NAMES)})\.?),?\s+)?"
)
# Absolute dates as news pages print them; the text matched is what dateparser reads.
_ABSOLUTE = re.compile(
    rf"\b{_WEEKDAY}(?:"
    rf"\d{{4}}-\d{{1,2}}-\d{{1,2}}"  # 2024-02-13
    rf"|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{4}}"  # 21/06/2024, 21.06.2024
    rf"|{_DAY}\s+{_MONTH},?\s+\d{{4}}"  # 4 April 2024
    rf"|{_MONTH}\s+{_DAY},?\s+\d{{4}}"  # July 12, 2023 / Sept. 5, 2025
    rf")(?![\d/.-]\d)",
    re.IGNORECASE,
)
_RELATIVE = re.compile(
    r"\b(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:min(?:ute)?s?|hours?|hrs?|days?|weeks?|months?)\s+ago\b|\byesterday\b",
    re.IGNORECASE,
)
_UPDATED = re.compile(r"\b(?:updated|last\s+updated|modified|last\s+modified)\b", re.IGNORECASE)
# What may surround dates on a dateline: times, zones, labels, separators.
_TIME = re.compile(r"\b\d{1,2}[:.h]\d{2}(?:\s*[ap]\.?m\.?)?\b|\b\d{1,2}\s*[ap]\.?m\.?\b", re.I)
_LABELS = re.compile(
    r"\b(?:published|posted|first\s+published|updated|last\s+updated|modified|"
    r"last\s+modified|on|at|date|time)\b:?",
    re.IGNORECASE,
)
_ZONE = re.compile(r"\b(?:[A-Z]{1,4}T|UTC|GMT|CEST|CET|EEST|EET|BST|IST|ET|PT|CT|MT)\b")
_LEFTOVER = re.compile(r"[\s|,;:·•\-–—/()\[\]]+")
DATELINE_MAX_WORDS = 16  # a dateline is short; longer lines with dates are prose


@dataclass(frozen=True, slots=True)
class DateMention:
    text: str  # as printed
    updated: bool  # "Updated ..." rather than a publication date
    relative: bool  # "2 hours ago": needs a reference date


def date_mentions(line: str) -> list[DateMention]:
    """The date expressions on a line, in order, each marked as an update or not."""
    found: list[tuple[int, str, bool]] = [
        (m.start(), m.group(), False) for m in _ABSOLUTE.finditer(line)
    ]
    found += [(m.start(), m.group(), True) for m in _RELATIVE.finditer(line)]
    found.sort()
    out = []
    for start, text, relative in found:
        # "Published 11 July 2024 | Updated 12 July 2024": the label nearest before each date
        before = line[:start]
        labels = list(re.finditer(r"\b(?:published|posted|updated|modified)\b", before, re.I))
        updated = bool(labels) and bool(_UPDATED.match(labels[-1].group()))
        out.append(DateMention(text, updated, relative))
    return out


def residue(line: str) -> str:
    """The line without its dates, times, zones, labels and separators."""
    rest = _RELATIVE.sub(" ", _ABSOLUTE.sub(" ", line))
    rest = _ZONE.sub(" ", _LABELS.sub(" ", _TIME.sub(" ", rest)))
    return _LEFTOVER.sub(" ", rest).strip()


def is_dateline(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped.split()) > DATELINE_MAX_WORDS:
        return False
    return bool(date_mentions(stripped)) and not residue(stripped)


@lru_cache(maxsize=1)
def _parser_settings() -> dict[str, Any]:
    return {"PREFER_DAY_OF_MONTH": "first", "RETURN_AS_TIMEZONE_AWARE": False}


def parse_date(text: str, relative_base: datetime | None = None) -> datetime | None:
    """One date expression as a datetime; None when unreadable, or relative without a base."""
    import dateparser  # a second to import its language data: only when a page has a date

    if _RELATIVE.fullmatch(text.strip()):
        if relative_base is None:
            return None
        return dateparser.parse(
            text, languages=["en"], settings={**_parser_settings(), "RELATIVE_BASE": relative_base}
        )
    # "21/06/2024" cannot be month-first; dateparser's default order (MDY) reads the rest.
    numeric = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text.strip())
    order = "DMY" if numeric and int(numeric[1]) > 12 else None
    settings = _parser_settings() | ({"DATE_ORDER": order} if order else {})
    return dateparser.parse(
        re.sub(r"(?<=[A-Za-z])\.", "", text), languages=["en"], settings=settings
    )


@dataclass(frozen=True, slots=True)
class PageDates:
    published: str | None = None  # ISO dates
    updated: str | None = None


def page_dates(mentions: list[DateMention]) -> PageDates:
    """Publication and update dates from the datelines' mentions (first of each wins)."""
    absolute = [m for m in mentions if not m.relative]
    updated_at = next((d for m in absolute if m.updated and (d := parse_date(m.text))), None)
    published_at = next((d for m in absolute if not m.updated and (d := parse_date(m.text))), None)
    if published_at is None:  # only a relative stamp: readable against the update date alone
        published_at = next(
            (d for m in mentions if m.relative and (d := parse_date(m.text, updated_at))), None
        )
    return PageDates(
        published=published_at.date().isoformat() if published_at else None,
        updated=updated_at.date().isoformat() if updated_at else None,
    )
