"""A LangGraph ``BaseStore`` kept in memory_rs (install the ``langgraph``
extra): LangGraph agents get long-term memory with hybrid search, persisted
in the configured store.

Each item is one memory: its namespace joined by ``/`` is the memory's
``user_id``, the store's ``agent_id`` (``"langgraph"``) its agent, and the
item's key, namespace and value live in the memory's metadata
(``lg_key``, ``lg_ns``, ``lg_ns0``…, ``lg_value``). The memory's content —
what search embeds and indexes — is the text at the index fields
(the store's ``index_fields`` or the put's ``index``), else every string
in the value, one per line. A ``ttl`` (minutes) becomes the memory's ``expires_at``; reads do not
extend it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from .client import Memory
from .types import MemoryRecord

_OPERATORS = {"$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_PAGE = 200


class MemoryStore(BaseStore):
    """LangGraph's ``BaseStore`` over a :class:`memory_rs.Memory`."""

    supports_ttl = True

    def __init__(
        self,
        memory: Memory,
        *,
        agent_id: str = "langgraph",
        index_fields: Sequence[str] | None = None,
    ) -> None:
        """Keeps items in ``memory`` under the agent ``agent_id``;
        ``index_fields`` are the value's top-level fields whose text is
        searched (``None``: the whole value)."""
        self.memory = memory
        self.agent_id = agent_id
        self.index_fields = list(index_fields) if index_fields is not None else None

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Runs the operations in order."""
        return [self._run(op) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Runs the operations in order on a worker thread (the engine
        releases the GIL, so the event loop keeps running)."""
        return await asyncio.to_thread(self.batch, list(ops))

    def _run(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            record = self._find(op.namespace, op.key)
            return _item(record) if record is not None else None
        if isinstance(op, PutOp):
            self._put(op)
            return None
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._namespaces(op)
        raise ValueError(f"unknown store operation {type(op).__name__}")

    def _find(self, namespace: tuple[str, ...], key: str) -> MemoryRecord | None:
        page = self.memory.list(
            user_id=_user(namespace),
            agent_id=self.agent_id,
            filter={"metadata.lg_key": key, **_namespace_filter(namespace, exact=True)},
            limit=1,
        )
        return page.items[0] if page.items else None

    def _put(self, op: PutOp) -> None:
        existing = self._find(op.namespace, op.key)
        if op.value is None:
            if existing is not None:
                self.memory.delete(existing.id)
            return
        value = dict(op.value)
        metadata = {
            "lg_key": op.key,
            "lg_ns": list(op.namespace),
            "lg_depth": len(op.namespace),
            **{f"lg_ns{i}": label for i, label in enumerate(op.namespace)},
            "lg_value": value,
        }
        content = self._content(value, op.index)
        expires = (
            datetime.now(timezone.utc) + timedelta(minutes=op.ttl) if op.ttl is not None else None
        )
        if existing is not None:
            self.memory.update(existing.id, content=content, metadata=metadata, expires_at=expires)
        else:
            self.memory.add(
                content,
                user_id=_user(op.namespace),
                agent_id=self.agent_id,
                metadata=metadata,
                expires_at=expires,
            )

    def _content(self, value: Mapping[str, Any], index: Any) -> str:
        fields = index if isinstance(index, list) else self.index_fields
        if fields and "$" not in fields:
            parts = [_text(value[f]) for f in fields if f in value]
            text = "\n".join(p for p in parts if p)
            if text.strip():
                return text
        words = "\n".join(_strings(value))
        return words if words.strip() else json.dumps(value, sort_keys=True, ensure_ascii=False)

    def _search(self, op: SearchOp) -> list[SearchItem]:
        conditions: dict[str, Any] = _namespace_filter(op.namespace_prefix, exact=False)
        for field, wanted in (op.filter or {}).items():
            conditions[f"metadata.lg_value.{field}"] = _condition(wanted)
        want = op.offset + op.limit
        if op.query:
            response = self.memory.search(op.query, agent_id=self.agent_id, filter=conditions, k=want)
            hits = response.hits[op.offset : want]
            return [_search_item(h.memory, score=h.score) for h in hits]
        records: list[MemoryRecord] = []
        cursor: str | None = None
        while len(records) < want:
            page = self.memory.list(
                agent_id=self.agent_id, filter=conditions, limit=min(_PAGE, want), cursor=cursor
            )
            records.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return [_search_item(r) for r in records[op.offset : want]]

    def _namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        cursor: str | None = None
        while True:
            page = self.memory.list(agent_id=self.agent_id, limit=_PAGE, cursor=cursor)
            for record in page.items:
                ns = tuple(record.metadata.get("lg_ns", ()))
                if all(_matches(ns, c) for c in op.match_conditions or ()):
                    found.add(ns[: op.max_depth] if op.max_depth is not None else ns)
            cursor = page.next_cursor
            if cursor is None:
                break
        return sorted(found)[op.offset : op.offset + op.limit]


def _user(namespace: tuple[str, ...]) -> str:
    return "/".join(namespace)


def _namespace_filter(namespace: tuple[str, ...], *, exact: bool) -> dict[str, Any]:
    conditions: dict[str, Any] = {f"metadata.lg_ns{i}": label for i, label in enumerate(namespace)}
    if exact:
        conditions["metadata.lg_depth"] = len(namespace)
    return conditions


def _condition(wanted: Any) -> Any:
    """A LangGraph filter value (``x`` or ``{"$gt": x}``) in the engine's
    filter language."""
    if isinstance(wanted, Mapping) and wanted and all(k in _OPERATORS for k in wanted):
        return {_OPERATORS[k]: v for k, v in wanted.items()}
    return {"eq": wanted}


def _matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = tuple(condition.path)
    if len(path) > len(namespace):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part))


def _strings(value: Any) -> list[str]:
    """The text in a value, in order: what a model should read of it."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _strings(v)]
    return []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _item(record: MemoryRecord) -> Item:
    meta = record.metadata
    return Item(
        namespace=tuple(meta.get("lg_ns", ())),
        key=str(meta.get("lg_key", record.id)),
        value=dict(meta.get("lg_value", {})),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _search_item(record: MemoryRecord, score: float | None = None) -> SearchItem:
    item = _item(record)
    return SearchItem(
        namespace=item.namespace,
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=score,
    )


__all__ = ["MemoryStore"]
