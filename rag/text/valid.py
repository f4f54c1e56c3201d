"""Is a piece of text valid Unicode? The one check every edge (CLI arguments, HTTP bodies,
question sets, article metadata) runs before text reaches the tokenizer or a JSON encoder.

A lone UTF-16 surrogate (U+D800-U+DFFF) is not a character: JSON may carry one as an escape
(`"\\ud800"`), and Python turns a command-line byte that is not UTF-8 into one
(`surrogateescape`: byte 0xFF becomes U+DCFF). Such a string cannot be encoded as UTF-8, so
the tokenizer fails with a TypeError and JSON responses with a UnicodeEncodeError. Every
other code point, control characters included, is accepted: the tokenizer and the JSON
encoder handle them, and refusing them would make the API's schema promise less than it
accepts.
"""

from __future__ import annotations

import re

from rag.errors import InvalidTextError

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why `text` is not valid Unicode text, or None when it is."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    where = f"U+{code:04X} at character {found.start() + 1}"
    if 0xDC80 <= code <= 0xDCFF:  # how Python spells an undecodable byte
        return (
            f"it holds {where}: a byte (0x{code - 0xDC00:02X}) that is not UTF-8, or a lone "
            "UTF-16 surrogate"
        )
    return f"it holds {where}: a lone UTF-16 surrogate, which is not a character"


def check_text(text: str, what: str) -> str:
    """`text` unchanged, or InvalidTextError naming `what` ("messages[2].content", ...)."""
    problem = text_problem(text)
    if problem is not None:
        raise InvalidTextError(f"{what} is not valid text: {problem}.")
    return text
