"""Every operation once: its signature, its docstring, the JSON it sends and
how its answer is read. :class:`memory_rs.Memory` and
:class:`memory_rs.AsyncMemory` derive their methods from these, so the two
flavours cannot drift apart."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from .types import (
    AddOutcome,
    CheckReport,
    Context,
    ExtractReport,
    ForgetReport,
    HistoryEvent,
    JobReport,
    MemoryRecord,
    Message,
    MessageOutcome,
    Page,
    SearchResponse,
    Session,
    SyncReport,
    decode,
)

T = TypeVar("T")
Id = UUID | str
"""A memory or message id: a :class:`uuid.UUID` or its text."""
Kind = Literal["fact", "preference", "event", "summary", "profile", "message"] | str
Role = Literal["user", "assistant", "system", "tool"]
Mode = Literal["hybrid", "semantic", "keyword"]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One operation ready to run: its name, its arguments and its reader."""

    op: str
    args: dict[str, Any]
    read: Callable[[Any], T]

    def payload(self) -> str:
        """The arguments as the JSON the engine takes."""
        return json.dumps(self.args, default=_json_default)

    def answer(self, text: str) -> T:
        """The engine's JSON answer as typed objects."""
        return self.read(json.loads(text))


def _json_default(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        # A naive time is taken as UTC, as the engine stores every time in UTC.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _set(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments that were given: ``None`` leaves the engine's default."""
    return {k: v for k, v in args.items() if v is not None}


def _as(cls: type[T]) -> Callable[[Any], T]:
    return lambda data: decode(cls, data)


def _list_of(cls: type[T]) -> Callable[[Any], list[T]]:
    return lambda data: [decode(cls, d) for d in data]


def _none(_: Any) -> None:
    return None


def _dict(data: Any) -> dict[str, Any]:
    return dict(data)


def add(
    tenant: str,
    content: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    kind: Kind | None = None,
    importance: float | None = None,
    confidence: float | None = None,
    metadata: Mapping[str, Any] | None = None,
    source_message_ids: Sequence[Id] | None = None,
    expires_at: datetime | None = None,
    valid_from: datetime | None = None,
    supersedes: Id | None = None,
    dedup_threshold: float | None = None,
    topic_id: Id | None = None,
) -> Call[AddOutcome]:
    """Remembers ``content`` for a user, agent or session (at least one).

    ``kind`` is ``fact`` by default, ``importance`` 1–10 (5), ``confidence``
    0–1 (1). ``supersedes`` names a current memory this one contradicts: it
    stays for history and ``as_of`` reads. ``dedup_threshold`` merges into the
    owner's nearest memory at least that similar. Returns what the add did.
    """
    return Call("add", _set(dict(locals())), _as(AddOutcome))


def add_batch(tenant: str, items: Sequence[Mapping[str, Any]]) -> Call[list[AddOutcome]]:
    """Adds many memories in one transaction, embedded together; each item
    takes :meth:`add`'s arguments as keys (``content`` and an owner at
    least). Returns one outcome per item, in order."""
    return Call(
        "add_batch",
        {"items": [{"tenant": tenant, **item} for item in items]},
        _list_of(AddOutcome),
    )


def search(
    tenant: str,
    query: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    k: int | None = None,
    mode: Mode | None = None,
    filter: Mapping[str, Any] | None = None,
    cursor: str | None = None,
    min_similarity: float | None = None,
    weights: Mapping[str, float] | None = None,
    include_superseded: bool | None = None,
    as_of: datetime | None = None,
    rewrite: bool | None = None,
) -> Call[SearchResponse]:
    """Finds memories by meaning and by keyword (``mode``: ``hybrid`` by
    default, ``semantic`` or ``keyword``). Owner fields left unset match any
    value. ``filter`` is the JSON filter language (``{"kind": "preference"}``,
    ``{"importance": {"$gte": 7}}``). Each hit says how its score was made."""
    return Call("search", _set(dict(locals())), _as(SearchResponse))


def get(tenant: str, id: Id) -> Call[MemoryRecord]:
    """One memory by id; :class:`memory_rs.NotFound` when there is none."""
    return Call("get", {"tenant": tenant, "id": id}, _as(MemoryRecord))


def update(
    tenant: str,
    id: Id,
    *,
    content: str | None = None,
    kind: Kind | None = None,
    importance: float | None = None,
    confidence: float | None = None,
    metadata: Mapping[str, Any] | None = None,
    expires_at: datetime | None = None,
    expected_version: int | None = None,
    reason: str | None = None,
) -> Call[MemoryRecord]:
    """Changes a memory (re-embedded when the content changes). With
    ``expected_version``, a memory changed since raises
    :class:`memory_rs.Conflict`. Returns the memory as it now is."""
    changes = _set(dict(locals()))
    del changes["tenant"], changes["id"]
    return Call("update", {"tenant": tenant, "id": id, "changes": changes}, _as(MemoryRecord))


def delete(tenant: str, id: Id) -> Call[None]:
    """Deletes one memory and its vectors."""
    return Call("delete", {"tenant": tenant, "id": id}, _none)


def history(tenant: str, id: Id) -> Call[list[HistoryEvent]]:
    """A memory's history: adds, updates, merges, supersedes, decay."""
    return Call("history", {"tenant": tenant, "id": id}, _list_of(HistoryEvent))


def list_memories(
    tenant: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    filter: Mapping[str, Any] | None = None,
    limit: int = 20,
    cursor: str | None = None,
    include_superseded: bool = False,
    as_of: datetime | None = None,
) -> Call[Page]:
    """Memories newest first, a page at a time (pass ``next_cursor`` back)."""
    scope = _set({"tenant": tenant, "user_id": user_id, "agent_id": agent_id, "session_id": session_id})
    args = _set(
        {
            "scope": scope,
            "filter": filter,
            "limit": limit,
            "cursor": cursor,
            "include_superseded": include_superseded,
            "as_of": as_of,
        }
    )
    return Call("list", args, _as(Page))


def record_message(
    tenant: str,
    session_id: str,
    content: str,
    *,
    role: Role | None = None,
    user_id: str | None = None,
    agent_id: str | None = None,
    author_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    external_id: str | None = None,
    platform: str | None = None,
    answered: bool | None = None,
    remember: bool | None = None,
    client_id: str | None = None,
    topic_id: Id | None = None,
    created_at: datetime | None = None,
) -> Call[MessageOutcome]:
    """Records a conversation message (``role`` ``user`` by default); the
    session is created by its first message. A ``client_id`` already
    recorded answers the first message again (``duplicate``)."""
    return Call("record_message", _set(dict(locals())), _as(MessageOutcome))


def recent(tenant: str, session_id: str, *, limit: int = 20) -> Call[list[Message]]:
    """A session's latest messages, oldest first (the short-term window)."""
    return Call(
        "recent", {"tenant": tenant, "session_id": session_id, "limit": limit}, _list_of(Message)
    )


def context(
    tenant: str,
    query: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
    token_budget: int = 1000,
) -> Call[Context]:
    """Prompt context for ``query``: profile facts, the session's summary,
    relevant memories and recent messages, rendered within
    ``token_budget`` (about 4 characters a token). ``session_id`` names the
    conversation whose recent messages are included."""
    scope = _set({"tenant": tenant, "user_id": user_id, "agent_id": agent_id})
    args = _set({"scope": scope, "session_id": session_id, "query": query, "token_budget": token_budget})
    return Call("context", args, _as(Context))


def forget(
    tenant: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
) -> Call[ForgetReport]:
    """Deletes everything about a user, agent or session; other people's
    messages in shared sessions stay."""
    return Call("forget", _set(dict(locals())), _as(ForgetReport))


def stats(
    tenant: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    session_id: str | None = None,
) -> Call[dict[str, Any]]:
    """Counts: of one user, agent or session when one is named, else the
    engine's (store, vectors, short-term tier, jobs, language model use)."""
    scope = _set({"tenant": tenant, "user_id": user_id, "agent_id": agent_id, "session_id": session_id})
    args = {"scope": scope} if len(scope) > 1 else {"tenant": tenant}
    return Call("stats", args, _dict)


def check(tenant: str, *, repair: bool = False) -> Call[CheckReport]:
    """Compares the store with the vector index; ``repair`` re-queues missing
    vectors and removes orphans."""
    return Call("check", {"on": repair}, _as(CheckReport))


def sync(tenant: str, *, force: bool = False) -> Call[SyncReport]:
    """Writes pending vectors now (``force`` also retries failed ones)."""
    return Call("sync", {"on": force}, _as(SyncReport))


def extract(tenant: str, session_id: str) -> Call[ExtractReport]:
    """Extracts memories from a session's unextracted messages now, with the
    configured language model (the worker does it every ``extract_batch``
    messages)."""
    return Call("extract", {"tenant": tenant, "session_id": session_id}, _as(ExtractReport))


def end_session(tenant: str, session_id: str) -> Call[Session]:
    """Ends a session: queues its extraction and summary."""
    return Call("end_session", {"tenant": tenant, "session_id": session_id}, _as(Session))


def run_jobs(tenant: str) -> Call[JobReport]:
    """Runs one round of the background jobs (vector sync, extraction,
    decay, expiry) now, in this call: for scripts that run no worker."""
    return Call("run_jobs", {}, _as(JobReport))


def status(tenant: str) -> Call[dict[str, Any]]:
    """Which backends are in use (and why others were skipped), and the
    job queue's counts."""
    return Call("status", {}, _dict)
