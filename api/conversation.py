"""Conversations in OpenAI's request shapes (Chat Completions `messages`, Responses `input`)
turned into the library's turns: the last user message is the question, the turns before it
resolve follow-ups through `Pipeline.chat`."""

from __future__ import annotations

from collections.abc import Sequence

from api.errors import InvalidChatError
from api.schemas import CHAT_ROLES, ContentPart, InputPart
from rag.chat import Turn
from rag.text.valid import check_text

ROLES = CHAT_ROLES
# Text parts of either API: Chat Completions' "text", the Responses API's input/output text.
TEXT_PARTS = ("text", "input_text", "output_text")


def content_text(content: str | Sequence[ContentPart | InputPart] | None, where: str) -> str:
    """A message's text (its text parts joined), refused if it is not valid text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return check_text(content, f"{where}.content")
    texts = []
    for part in content:
        if part.type not in TEXT_PARTS or part.text is None:
            raise InvalidChatError(f"{where}: only text content is supported, not {part.type!r}.")
        texts.append(part.text)
    return check_text("\n".join(texts), f"{where}.content")


def check_role(role: str | None, where: str) -> str:
    if role not in ROLES:
        raise InvalidChatError(
            f"{where}: unsupported role {role!r}; use one of {', '.join(ROLES)}."
        )
    return role


def split_turns(
    messages: Sequence[tuple[str, str]], field: str = "messages"
) -> tuple[list[Turn], str]:
    """(history, question) from (role, text) pairs: the last user message is the question;
    system and developer messages are instructions for a generative model and are ignored."""
    turns = [
        Turn("user" if role == "user" else "assistant", text)
        for role, text in messages
        if role in ("user", "assistant")
    ]
    last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=None)
    if last_user is None:
        raise InvalidChatError(f"{field} has no user message: nothing to answer.")
    return turns[:last_user], turns[last_user].content
