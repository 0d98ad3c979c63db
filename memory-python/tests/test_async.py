"""The asyncio client: the same operations awaited, many at once, without
blocking the event loop."""

from __future__ import annotations

import asyncio

import pytest

import memory_rs
from memory_rs import AsyncMemory


async def test_every_operation_awaits(amemory: AsyncMemory) -> None:
    added = await amemory.add("Mallory keeps bees", user_id="mallory", kind="fact")
    batch = await amemory.add_batch([{"content": "Mallory sells honey", "user_id": "mallory"}])
    assert (await amemory.get(added.id)).content == "Mallory keeps bees"
    hits = (await amemory.search("beekeeping hobby", user_id="mallory")).hits
    assert hits[0].memory.id == added.id and hits[0].explain.similarity is not None
    updated = await amemory.update(batch[0].id, importance=9, expected_version=1)
    assert updated.importance == 9
    assert [e.op for e in await amemory.history(batch[0].id)] == ["add", "update"]
    assert len((await amemory.list(user_id="mallory")).items) == 2
    await amemory.record_message("s", "I harvested 20 kg this year", user_id="mallory")
    assert [m.content for m in await amemory.recent("s")] == ["I harvested 20 kg this year"]
    ctx = await amemory.context("bees", user_id="mallory", session_id="s")
    assert "bees" in ctx.text
    assert (await amemory.stats(user_id="mallory"))["memories"] == 2
    assert (await amemory.check()).store_count == 2
    assert (await amemory.sync()).failed == 0
    assert (await amemory.run_jobs()).dead == 0
    assert (await amemory.status())["store"]
    await amemory.delete(added.id)
    with pytest.raises(memory_rs.NotFound):
        await amemory.get(added.id)
    report = await amemory.forget(user_id="mallory")
    assert report.memories == [batch[0].id]


async def test_concurrent_tasks_all_land(amemory: AsyncMemory) -> None:
    adds = [amemory.add(f"Niaj fact {i}", user_id=f"niaj{i % 4}") for i in range(24)]
    outcomes = await asyncio.gather(*adds)
    assert len({o.id for o in outcomes}) == 24
    searches = [amemory.search(f"fact {i}", user_id=f"niaj{i % 4}", k=10) for i in range(12)]
    for i, response in enumerate(await asyncio.gather(*searches)):
        assert len(response.hits) == 6
        assert all(h.memory.scope.user_id == f"niaj{i % 4}" for h in response.hits)


async def test_the_loop_runs_while_the_engine_works(amemory: AsyncMemory) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    items = [{"content": f"Olivia's long note number {i} " * 8, "user_id": "olivia"} for i in range(64)]
    await amemory.add_batch(items)
    done.set()
    await task
    assert ticks > 10


async def test_sessions_end_and_extraction_needs_a_model(amemory: AsyncMemory) -> None:
    await amemory.record_message("s9", "Quinn is moving to Oslo", user_id="quinn")
    with pytest.raises(memory_rs.Unsupported) as e:
        await amemory.extract("s9")
    assert "language_model" in e.value.message
    ended = await amemory.end_session("s9")
    assert ended.id == "s9" and ended.ended_at is not None and ended.user_id == "quinn"
    other = amemory.with_tenant("elsewhere")
    assert (await other.list(user_id="quinn")).items == []
    with pytest.raises(memory_rs.NotFound):
        await other.end_session("s9")


async def test_errors_raise_from_awaits(amemory: AsyncMemory) -> None:
    with pytest.raises(memory_rs.InvalidInput) as empty:
        await amemory.add("   ", user_id="p")
    assert "content" in empty.value.message
    with pytest.raises(memory_rs.ConfigError):
        await AsyncMemory.open({"store": "nosuch://x"})
