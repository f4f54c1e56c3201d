"""Line roles on a saved news page: headline, dateline, byline, furniture or body.

Page furniture in saved pages sits on lines of its own (mastheads, navigation, banners,
share buttons, related-headline lists, captions), so every non-blank line gets one `Role` and
offsets never move. The rules are general, not per-site: furniture is recognised by what it
says ("Sign in", "Advertisement", "Share:") and by its shape (short segments between
separators, a bracketed "[Photo: ...]"), the headline is the first headline-shaped line above
the first paragraph of prose, and everything from that paragraph on is body unless it is
furniture, a byline or an author's note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.ingest.dates import DateMention, PageDates, date_mentions, is_dateline, page_dates
from rag.types import Role, RoleSpan

LAYOUT_VERSION = 3  # bump when the rules change: stored roles and metadata are recomputed
# 2: a list item that reads as prose is body (its marker left out); 3: only a key point
# (`_is_key_point`), not a teaser, a labelled link or furniture behind a bullet

# Real outlets whose name may stand alone on a line below the headline (not only on top).
KNOWN_OUTLETS = (
    "The Wall Street Journal",
    "Semafor",
    "Reuters",
    "Associated Press",
    "Politico",
    "The New York Times",
    "Financial Times",
)
MASTHEAD_MAX_WORDS = 5
HEADLINE_MIN_WORDS = 4
# A line of prose: ends a sentence and is longer than any heading or widget line.
PROSE_MIN_WORDS = 8
FURNITURE_MAX_WORDS = 40  # a banner longer than this is prose that mentions cookies etc.

_I = re.IGNORECASE
_COOKIE = re.compile(r"\bcookies?\b|\bconsent\b|\baccept all\b|manage preferences|privacy", _I)
_ERROR = re.compile(
    r"\boops!?|something went wrong|please try again|enable javascript|page not found|"
    r"failed to load|content is unavailable",
    _I,
)
_ADVERT = re.compile(
    r"^\W*(?:advertisement|advert|ad|sponsored(?: content)?|promoted|paid content|"
    r"story continues below(?: advertisement)?|scroll to continue(?: with content)?)\W*$",
    _I,
)
_ACCOUNT = re.compile(
    r"\b(?:sign in|sign up|log in|login|register|subscribe|subscription|newsletter|"
    r"my account|create an account|get the .{1,40} (?:in your inbox|every \w+))\b",
    _I,
)
_SHARE_WORDS = re.compile(
    r"\b(?:facebook|twitter|x|linkedin|whatsapp|email|e-mail|copy link|reddit|telegram|print)\b",
    _I,
)
_SHARE = re.compile(r"^\W*share(?: this(?: article| story| page)?)?\b|^\W*share\W*$", _I)
_WIDGET = re.compile(
    r"listen to (?:this )?(?:article|story)|\b\d+\s*min(?:ute)?s?(?: read| listen)?\b\W*$|"
    r"^\W*(?:print|save|bookmark|gift this article|font size)\W*$",
    _I,
)
_RELATED_HEAD = re.compile(
    r"^\W*(?:related(?: coverage| stories| articles| content| reading| topics)?|"
    r"more (?:from|on|in|about) .{1,40}|most read|most popular|read more|read next|"
    r"recommended(?: for you)?|you may also like|you might also like|see also|"
    r"trending(?: now)?|top stories|latest news|also read|further reading|"
    r"what to read next)\W*$",
    _I,
)
_LIST_ITEM = re.compile(r"^\s*(?:[•\-*–·▪>›»]|\d{1,2}[.)])\s+")
_CAPTION = re.compile(
    r"^\s*(?:\[|\()\s*(?:photo|image|picture|video|caption|photo caption|graphic|illustration)"
    r"\b.*(?:\]|\))\s*$|^\s*(?:photo|image|picture|caption|pictured|credit)\s*:",
    _I,
)
_COMMENTS = re.compile(
    r"\b\d+\s+comments?\b|\bcomments?\s*\(\d+\)|\bleave a comment\b|\bjoin the (?:conversation|"
    r"discussion)\b|\bshow comments\b|\breport an? (?:error|typo|correction)\b|"
    r"\bsubmit a correction\b",
    _I,
)
_TAGS = re.compile(r"^\s*(?:tags?|topics?|filed under|keywords)\s*:", _I)
_FOOTER = re.compile(
    r"^\s*(?:©|\(c\)\s*\d{4}|copyright\b)|all rights reserved|independent (?:news|journalism) "
    r"since \d{4}|terms of (?:use|service)|privacy policy",
    _I,
)
_NAV_WORDS = re.compile(
    r"^\W*(?:skip to (?:main )?(?:content|navigation)|skip navigation|menu|search|"
    r"back to top|main menu|toggle navigation|home)\W*$",
    _I,
)
_BIO_HEAD = re.compile(r"^\W*about (?:the|this) (?:author|writer|reporter)s?\b\W*", _I)
_SEPARATORS = re.compile(r"\s+[|>/›»]\s+|\s*\|\s*|\s{3,}|\s->\s")
# "By Jane Q. Doe and John Roe": each name two to four capitalised words.
_PERSON = r"[A-Z][\w'’-]*\.?(?:\s+[A-Z][\w'’-]*\.?){1,3}"
_NAMES = rf"(?P<names>{_PERSON}(?:(?:\s*,\s*|\s+and\s+|\s*&\s*){_PERSON})*)"
_BYLINE = re.compile(
    rf"(?:^|\s[-–—|]\s|^.*?\d{{4}}\s*[-–—|]?\s*)"
    rf"(?:By|BY|Text|Words|Written by|Reporting by|Story by|Author)\s*:?\s+{_NAMES}"
    rf"(?P<tail>(?:\s*,\s*|\s+in\s+|\s+[-–—|]\s+)[^.]{{0,60}})?\s*$"
)
_NAME_DOES = re.compile(
    rf"^\s*(?:{_BIO_HEAD.pattern})?\s*(?P<name>{_PERSON})\s+(?:is|was|covers|reports|writes|"
    r"has (?:covered|reported|written)|joined|previously)\b"
)
_JOB = re.compile(
    r"\b(correspondent|editor|reporter|bureau chief|columnist|journalist|contributor|"
    r"staff writer|author of|covers)\b",
    _I,
)
# A short line ending like this is a sentence broken across lines, not a heading.
_DANGLING = re.compile(
    r"\b(?:that|and|or|but|the|a|an|of|to|in|on|for|with|by|as|at|from|which|who|is|are|was)$",
    _I,
)
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*\s*$|[\"”]\s*$")
# A list item that is a key point, not a teaser: it ends as a statement does.
_STATEMENT_END = re.compile(r"[.!][\"'”’)\]]*\s*$")
# "Explainer: how ...", "Read more: ...", "Photo: ...": a label of one or two words.
_LABELLED = re.compile(r"^\W*\w+(?:\s+\w+)?\s*:\s")
_SMALL_WORDS = frozenset("a an and at by for in of on or the to".split())


@dataclass
class Layout:
    """Roles of every non-blank line, and the metadata they carry."""

    roles: list[RoleSpan] = field(default_factory=list)
    title: str | None = None
    outlet: str | None = None
    authors: list[str] = field(default_factory=list)
    dates: PageDates = field(default_factory=PageDates)
    tentative_masthead: int | None = None  # position in `roles` of a guessed masthead

    def junk(self) -> list[tuple[int, int]]:
        from rag.types import INDEXED_ROLES

        return [(r.start, r.end) for r in self.roles if r.role not in INDEXED_ROLES]


def lines_of(text: str) -> list[tuple[int, int, str]]:
    """(start, end, line) for every line, end excluding the line break."""
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        out.append((pos, pos + len(line), line))
        pos += len(raw)
    return out


def _words(line: str) -> int:
    return len(line.split())


def _heading_shaped(line: str) -> bool:
    s = line.strip()
    return 0 < _words(s) <= 25 and not _TERMINAL.search(s) and not _DANGLING.search(s)


def _is_prose(line: str) -> bool:
    s = line.strip()
    return _words(s) >= PROSE_MIN_WORDS and bool(_TERMINAL.search(s))


def _is_key_point(item: str, authors: list[str]) -> bool:
    """A list item (its marker removed) that states something as the article's own prose
    does: a sentence ending in a full stop, with no label in front ("Explainer: ...", "Read
    more: ...") and nothing the furniture, byline or author-note rules would catch. A teaser
    headline asks or trails off ("Who are the 22 Republicans who backed the package?")."""
    s = item.strip()
    return (
        _is_prose(s)
        and bool(_STATEMENT_END.search(s))
        and not _LABELLED.match(s)
        and _furniture(s) is None
        and _byline(s) is None
        and not _is_bio(s, authors, after_bio_head=False)
    )


def _segments(line: str) -> list[str]:
    return [p for p in (s.strip() for s in _SEPARATORS.split(line.strip())) if p]


def _is_navigation(line: str) -> bool:
    """Short segments between separators: "Home / Defence / NATO", "World | Europe"."""
    parts = _segments(line)
    return len(parts) >= 2 and all(_words(p) <= 4 and not _TERMINAL.search(p) for p in parts)


def _is_shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def outlet_name(text: str) -> str:
    """ "THE MERIDIAN LEDGER" -> "The Meridian Ledger"; other spellings as written."""
    text = text.strip(" .:-|")
    if not _is_shouting(text):
        return text
    words = text.lower().split()
    return " ".join(
        w if i and w in _SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def _furniture(line: str) -> Role | None:
    """The role of a furniture line recognised by what it says, or None."""
    s = line.strip()
    if _words(s) > FURNITURE_MAX_WORDS:
        return None
    if _ERROR.search(s):
        return Role.ERROR
    if _COOKIE.search(s) and not _is_prose_sentence_about(s):
        return Role.COOKIE
    if _ADVERT.match(s):
        return Role.ADVERT
    if _CAPTION.search(s):
        return Role.CAPTION
    if _SHARE.search(s) or (len(_SHARE_WORDS.findall(s)) >= 3 and _words(s) <= 12):
        return Role.SHARE
    if _COMMENTS.search(s) and _words(s) <= 12:
        return Role.COMMENTS
    if _TAGS.match(s):
        return Role.TAGS
    if _FOOTER.search(s) and _words(s) <= 16:
        return Role.FOOTER
    if _WIDGET.search(s) and _words(s) <= 10:
        return Role.WIDGET
    if _RELATED_HEAD.match(s):
        return Role.RELATED
    if _NAV_WORDS.match(s):
        return Role.NAVIGATION
    if _ACCOUNT.search(s) and _words(s) <= 16 and not _TERMINAL.search(s.rstrip("!")):
        return Role.ACCOUNT
    return None


def _is_prose_sentence_about(s: str) -> bool:
    """A sentence of the article that happens to say "privacy" or "consent"."""
    return _is_prose(s) and not re.search(r"\bcookies?\b|\baccept\b", s, _I)


def _byline(line: str) -> list[str] | None:
    match = _BYLINE.search(line.strip())
    if not match:
        return None
    names = re.split(r"\s*,\s*|\s+and\s+|\s*&\s*", match["names"])
    return [n.strip() for n in names if _words(n) >= 2]


def _is_bio(line: str, authors: list[str], after_bio_head: bool) -> bool:
    s = line.strip()
    if after_bio_head and s:
        return True
    if _BIO_HEAD.match(s) and _words(s) > 4:
        return True
    match = _NAME_DOES.match(s)
    if not match:
        return False
    name = match["name"]
    if any(name == a or name.endswith(a) or a.endswith(name) for a in authors):
        return True
    return bool(_JOB.search(s.split(". ")[0]))


def analyse_page(text: str) -> Layout:
    """Every non-blank line's role, with the title, outlet, authors and dates they give."""
    lines = [(s, e, line) for s, e, line in lines_of(text) if line.strip()]
    out = Layout()
    mentions: list[DateMention] = []
    # Where the article's prose starts: the first prose line that is not furniture.
    body_from = next(
        (
            i
            for i, (_, _, line) in enumerate(lines)
            if _is_prose(line) and _furniture(line) is None and _byline(line) is None
        ),
        len(lines),
    )
    in_list_of: Role | None = None  # under a "Related" heading: its items are related too
    after_bio_head = False
    for i, (start, end, line) in enumerate(lines):
        s = line.strip()
        role = _masthead(s, out) if i < body_from else None
        role = role or _furniture(s)
        names = _byline(s) if role is None else None
        if role is None and _BIO_HEAD.match(s) and _words(s) <= 4:
            after_bio_head = True
            out.roles.append(RoleSpan(start, end, Role.SUBHEADING))
            continue
        if role is Role.RELATED:
            in_list_of = Role.RELATED
        elif role is None and in_list_of and (_LIST_ITEM.match(line) or _heading_shaped(s)):
            role = in_list_of
        elif role is None:
            in_list_of = None
        if role is None and names is not None:
            role = Role.BYLINE
            out.authors = out.authors or names
            mentions += date_mentions(s)
        elif role is None and is_dateline(s):
            role = Role.DATELINE
            mentions += date_mentions(s)
        elif role is None and _is_bio(s, out.authors, after_bio_head):
            role = Role.AUTHOR_BIO
        elif role is None and (item := _LIST_ITEM.match(line)):
            role = Role.LIST
            if _is_key_point(line[item.end() :], out.authors):
                # the article's prose; its marker is not, so the span starts after it
                role, start = Role.BODY, start + item.end()
        elif role is None and i < body_from:
            role = _top_of_page(s, out)
        elif role is None and _heading_shaped(s) and not _continues(lines, i):
            role = Role.SUBHEADING
            if s in KNOWN_OUTLETS:
                role = Role.MASTHEAD
                out.outlet = out.outlet or s
        if role is None:
            role = Role.BODY
        if role is not Role.AUTHOR_BIO:
            after_bio_head = False
        out.roles.append(RoleSpan(start, end, role))
    if out.title is None and out.tentative_masthead is not None:
        first = out.roles[out.tentative_masthead]
        out.roles[out.tentative_masthead] = RoleSpan(first.start, first.end, Role.HEADLINE)
        out.title, out.outlet = text[first.start : first.end].strip(), None
    out.outlet = out.outlet or _outlet_from_furniture(lines, out.roles)
    out.dates = page_dates(mentions)
    return out


def _masthead(s: str, out: Layout) -> Role | None:
    """The outlet's name above the prose: shouted ("THE MERIDIAN LEDGER", perhaps followed by
    links), or a known outlet's name on a line of its own."""
    parts = _segments(s)
    if parts and _is_shouting(parts[0]) and _words(parts[0]) <= MASTHEAD_MAX_WORDS:
        out.outlet = out.outlet or outlet_name(parts[0])
        return Role.MASTHEAD
    if s in KNOWN_OUTLETS:
        out.outlet = out.outlet or s
        return Role.MASTHEAD
    return None


def _top_of_page(s: str, out: Layout) -> Role:
    """A line above the first paragraph that is no known furniture: masthead, navigation,
    headline, standfirst."""
    if _is_navigation(s):
        return Role.NAVIGATION
    if out.title is None:
        if _words(s) >= HEADLINE_MIN_WORDS:
            out.title = s
            return Role.HEADLINE
        if _words(s) <= MASTHEAD_MAX_WORDS and not out.outlet:
            # A short name on top of the page, before the headline; if no headline follows,
            # it was the headline (analyse_page turns it back).
            out.outlet = outlet_name(s)
            out.tentative_masthead = len(out.roles)
            return Role.MASTHEAD
        return Role.NAVIGATION
    if _heading_shaped(s) and _words(s) >= HEADLINE_MIN_WORDS:
        return Role.STANDFIRST
    if _is_prose(s) or _words(s) >= PROSE_MIN_WORDS:
        return Role.BODY
    return Role.SUBHEADING


def _outlet_from_furniture(lines: list[tuple[int, int, str]], roles: list[RoleSpan]) -> str | None:
    """No masthead: the first segment of a breadcrumb on top, or the name in a copyright."""
    for (_, _, line), span in zip(lines, roles, strict=True):
        if span.role is Role.NAVIGATION:
            first = _segments(line)[0]
            if re.search(r"[A-Z]\w+\s+[A-Z]\w+", first) and first.lower() != "home":
                return outlet_name(first)
            break
        if span.role is not Role.ACCOUNT and span.role is not Role.COOKIE:
            break
    for (_, _, line), span in zip(lines, roles, strict=True):
        if span.role is Role.FOOTER:
            match = re.search(
                r"(?:©|\(c\)|copyright)\s*(?:\d{4}\s*)?(?P<name>[A-Z][^.|]{2,40})", line, _I
            )
            if match:
                return outlet_name(match["name"])
    return None


def _continues(lines: list[tuple[int, int, str]], index: int) -> bool:
    """True when the next non-blank line carries on this line's sentence (starts lower-case)."""
    if index + 1 < len(lines):
        return lines[index + 1][2].strip()[:1].islower()
    return False
