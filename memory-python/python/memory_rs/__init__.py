"""memory_rs: a memory layer for AI agents, the Rust engine in-process.

Long-term memories found by meaning and by keyword, conversations with their
short-term window, and prompt context, on the embedded default (SQLite and a
local embedding model, no server) or any backend the ``memory`` server
supports. :class:`Memory` blocks; :class:`AsyncMemory` is awaitable.
Errors are :class:`Error` subclasses, one per kind.
"""

from ._native import __version__
from .aio import AsyncMemory
from .client import Memory
from .errors import (
    ConfigError,
    Conflict,
    DimensionMismatch,
    Error,
    InternalError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unavailable,
    Unsupported,
)
from .types import (
    AddOutcome,
    ChunkSpan,
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
    Scope,
    ScoreParts,
    SearchHit,
    SearchResponse,
    Session,
    SyncReport,
)

__all__ = [
    "__version__",
    "Memory",
    "AsyncMemory",
    "Error",
    "InvalidInput",
    "NotFound",
    "Conflict",
    "DimensionMismatch",
    "RateLimited",
    "Unavailable",
    "Unsupported",
    "ConfigError",
    "InternalError",
    "AddOutcome",
    "ChunkSpan",
    "CheckReport",
    "Context",
    "ExtractReport",
    "ForgetReport",
    "HistoryEvent",
    "JobReport",
    "MemoryRecord",
    "Message",
    "MessageOutcome",
    "Page",
    "Scope",
    "ScoreParts",
    "SearchHit",
    "SearchResponse",
    "Session",
    "SyncReport",
]
