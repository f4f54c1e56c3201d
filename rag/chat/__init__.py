"""Multi-turn chat: follow-up questions resolved against the conversation so far."""

from rag.chat.followup import (
    ChatReply,
    Resolution,
    Turn,
    detect_followup,
    key_terms,
    resolve,
    resolve_followup,
)

__all__ = [
    "ChatReply",
    "Resolution",
    "Turn",
    "detect_followup",
    "key_terms",
    "resolve",
    "resolve_followup",
]
