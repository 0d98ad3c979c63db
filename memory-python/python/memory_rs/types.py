"""What the engine answers, as typed objects. Field names and meanings are
those of the REST API's JSON (see the server's ``/openapi.json``)."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")


@dataclass(slots=True)
class Scope:
    """Whose memory a record is."""

    tenant: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None


@dataclass(slots=True)
class MemoryRecord:
    """One long-term memory."""

    id: UUID
    scope: Scope
    content: str
    kind: str
    importance: float
    confidence: float
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_accessed_at: datetime
    access_count: int
    content_hash: str
    vector_state: str
    vector_attempts: int
    version: int
    source_message_ids: list[UUID] = field(default_factory=list)
    expires_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    superseded_by: UUID | None = None
    supersedes: UUID | None = None
    embedding_model: str | None = None


@dataclass(slots=True)
class ScoreParts:
    """How a hit's score was made: each list's contribution and the boosts."""

    relevance: float
    recency: float
    importance: float
    total: float
    similarity: float | None = None
    vector_rank: int | None = None
    keyword_score: float | None = None
    keyword_rank: int | None = None
    time_match: float | None = None
    rerank: float | None = None


@dataclass(slots=True)
class ChunkSpan:
    """The window of a long memory a hit's similarity comes from (byte offsets)."""

    index: int
    start: int
    end: int


@dataclass(slots=True)
class SearchHit:
    """One search result."""

    memory: MemoryRecord
    score: float
    explain: ScoreParts
    chunk: ChunkSpan | None = None


@dataclass(slots=True)
class SearchResponse:
    """A page of search results, best first."""

    hits: list[SearchHit]
    next_cursor: str | None = None
    degraded: list[str] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AddOutcome:
    """What an add did: ``event`` is ``added``, ``unchanged`` or ``merged``."""

    id: UUID
    event: str
    vector_state: str
    similarity: float | None = None


@dataclass(slots=True)
class HistoryEvent:
    """One change in a memory's history."""

    id: UUID
    memory_id: UUID
    tenant: str
    op: str
    reason: str
    created_at: datetime
    old_content: str | None = None
    new_content: str | None = None


@dataclass(slots=True)
class Page:
    """A page of memories, newest first."""

    items: list[MemoryRecord]
    next_cursor: str | None = None


@dataclass(slots=True)
class Message:
    """One conversation message."""

    id: UUID
    session_id: str
    role: str
    content: str
    created_at: datetime
    tenant: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    author_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extracted: bool = False
    answered: bool = False
    client_id: str | None = None
    topic_id: UUID | None = None


@dataclass(slots=True)
class MessageOutcome:
    """What recording a message did."""

    message: Message
    unextracted: int
    extraction_due: bool
    short_term_ok: bool
    memory_id: UUID | None = None
    duplicate: bool = False


@dataclass(slots=True)
class Context:
    """Prompt context: profile facts, a summary, relevant memories, recent
    messages, and all of it rendered as ``text`` within the token budget."""

    profile: list[MemoryRecord]
    memories: list[SearchHit]
    recent: list[Message]
    text: str
    tokens: int
    summary: MemoryRecord | None = None

    def enhance(self, base_prompt: str) -> str:
        """``base_prompt`` followed by the rendered context, if any."""
        return f"{base_prompt}\n\n{self.text}" if self.text else base_prompt


@dataclass(slots=True)
class Session:
    """A conversation."""

    id: str
    started_at: datetime
    tenant: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    title: str | None = None
    platform: str | None = None
    external_id: str | None = None
    ended_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ForgetReport:
    """What forgetting a user, agent or session removed."""

    memories: list[UUID]
    messages: int
    sessions: int
    users: int


@dataclass(slots=True)
class CheckReport:
    """Store and vector index compared; ``repaired`` when asked to fix them."""

    store_count: int
    index_count: int
    pending: int
    missing_vectors: list[UUID]
    orphan_vectors: list[UUID]
    repaired: bool


@dataclass(slots=True)
class SyncReport:
    """What a vector sync pass did."""

    upserted: int
    deleted: int
    failed: int


@dataclass(slots=True)
class ExtractReport:
    """What extracting memories from a session's messages did."""

    messages: int
    added: int
    updated: int
    superseded: int
    unchanged: int
    rejected: int
    summarized: bool
    calls: int
    input_tokens: int
    output_tokens: int


@dataclass(slots=True)
class JobReport:
    """What one round of the background jobs did."""

    completed: int
    retried: int
    dead: int


def decode(cls: type[T], data: Any) -> T:
    """Builds ``cls`` (a dataclass here, a list, an optional, a scalar) from
    decoded JSON; keys this version does not know are ignored."""
    return typing.cast(T, _decode(cls, data))


def _decode(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(inner[0], data)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_decode(item, d) for d in data]
    if origin is dict or tp is Any:
        return data
    if tp is UUID:
        return UUID(data)
    if tp is datetime:
        return parse_time(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _decode(hints[k], v) for k, v in data.items() if k in known})
    return data


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time as the engine writes it (``Z``, up to nanoseconds),
    readable by Python 3.10's ``fromisoformat`` too."""
    text = _FRACTION.sub(r".\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)
