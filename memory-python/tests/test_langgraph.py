"""The LangGraph store adapter, held to what LangGraph's own store tests
expect of a BaseStore (put/get/delete, search by filter, prefix and query,
list_namespaces with prefix, suffix, wildcards, depth and paging)."""

from __future__ import annotations

import pytest
from langgraph.store.base import Item, SearchItem

from memory_rs import Memory
from memory_rs.langgraph import MemoryStore


@pytest.fixture
def store(memory: Memory) -> MemoryStore:
    return MemoryStore(memory)


def test_put_get_update_delete(store: MemoryStore) -> None:
    ns = ("users", "victor", "memories")
    assert store.get(ns, "food") is None
    store.put(ns, "food", {"text": "Victor is allergic to peanuts", "level": 3})
    item = store.get(ns, "food")
    assert isinstance(item, Item)
    assert item.value == {"text": "Victor is allergic to peanuts", "level": 3}
    assert item.key == "food" and item.namespace == ns
    first_update = item.updated_at
    store.put(ns, "food", {"text": "Victor is allergic to shellfish", "level": 4})
    again = store.get(ns, "food")
    assert again is not None and again.value["level"] == 4
    assert again.created_at == item.created_at and again.updated_at >= first_update
    assert store.get(("users", "victor"), "food") is None
    assert store.get(("users", "victor", "memories", "x"), "food") is None
    store.delete(ns, "food")
    assert store.get(ns, "food") is None
    store.delete(ns, "food")


def test_search_by_prefix_filter_and_query(store: MemoryStore) -> None:
    store.put(("docs", "a"), "1", {"text": "Rust ownership and borrowing", "topic": "rust", "stars": 5})
    store.put(("docs", "a"), "2", {"text": "Python asyncio event loops", "topic": "python", "stars": 3})
    store.put(("docs", "b"), "3", {"text": "Sourdough bread baking", "topic": "food", "stars": 4})
    store.put(("other",), "4", {"text": "Rust on old bicycles", "topic": "bikes", "stars": 1})

    assert {i.key for i in store.search(("docs",))} == {"1", "2", "3"}
    assert {i.key for i in store.search(("docs", "a"))} == {"1", "2"}
    assert [i.key for i in store.search(("docs",), filter={"topic": "food"})] == ["3"]
    assert {i.key for i in store.search(("docs",), filter={"stars": {"$gte": 4}})} == {"1", "3"}
    assert {i.key for i in store.search(("docs",), filter={"stars": {"$ne": 3}})} == {"1", "3"}

    ranked = store.search(("docs",), query="memory safety in the Rust language")
    assert ranked[0].key == "1"
    assert all(isinstance(i, SearchItem) and i.score is not None for i in ranked)
    keys = [i.key for i in store.search(("docs",), query="programming languages")]
    assert [i.key for i in store.search(("docs",), query="programming languages", limit=1, offset=1)] == keys[1:2]
    assert len(store.search(("docs",), limit=2)) == 2
    assert len(store.search(("docs",), limit=2, offset=2)) == 1


def test_index_fields_choose_what_is_searched(memory: Memory) -> None:
    store = MemoryStore(memory, index_fields=["summary"])
    store.put(("n",), "a", {"summary": "a trip to the mountains", "body": "photosynthesis in plants"})
    store.put(("n",), "b", {"summary": "notes on cell biology", "body": "hiking boots"})
    assert store.search(("n",), query="hiking in the alps")[0].key == "a"
    store.put(("n",), "c", {"summary": "a recipe"}, index=False)
    assert store.get(("n",), "c") is not None


def test_list_namespaces(store: MemoryStore) -> None:
    for ns in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
        ("users", "123"),
        ("users", "456", "settings"),
    ]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces(prefix=("a", "b")) == [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a",), max_depth=2) == [("a", "b"), ("a", "c")]
    assert store.list_namespaces(prefix=("users",), suffix=("settings",)) == [("users", "456", "settings")]
    assert len(store.list_namespaces(limit=3)) == 3
    assert store.list_namespaces(limit=3, offset=7) == [("users", "456", "settings")]


def test_ttl_becomes_an_expiry(store: MemoryStore, memory: Memory) -> None:
    store.put(("t",), "k", {"text": "short lived"}, ttl=5)
    [record] = memory.list(agent_id="langgraph").items
    assert record.expires_at is not None
    assert 240 < (record.expires_at - record.created_at).total_seconds() <= 300


async def test_async_operations(store: MemoryStore) -> None:
    await store.aput(("as",), "k", {"text": "Wendy rows on the Thames"})
    item = await store.aget(("as",), "k")
    assert item is not None and item.value["text"] == "Wendy rows on the Thames"
    hits = await store.asearch(("as",), query="rowing")
    assert [h.key for h in hits] == ["k"]
    assert await store.alist_namespaces() == [("as",)]
    await store.adelete(("as",), "k")
    assert await store.aget(("as",), "k") is None
