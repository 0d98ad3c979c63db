"""The blocking client: every operation, on SQLite and the local model."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import memory_rs
from memory_rs import Memory


def test_add_get_search_explains_its_score(memory: Memory) -> None:
    tea = memory.add("Alice drinks green tea every morning", user_id="alice", kind="preference")
    memory.add("Alice's brother lives in Porto", user_id="alice")
    memory.add("Bob drinks coffee", user_id="bob")
    assert tea.event == "added"
    assert isinstance(tea.id, uuid.UUID)

    record = memory.get(tea.id)
    assert record.content == "Alice drinks green tea every morning"
    assert record.kind == "preference"
    assert record.scope.user_id == "alice"
    assert record.created_at.tzinfo is not None

    found = memory.search("what does she drink in the morning?", user_id="alice", k=5)
    assert [h.memory.id for h in found.hits][0] == tea.id
    assert all(h.memory.scope.user_id == "alice" for h in found.hits)
    top = found.hits[0]
    assert top.explain.similarity is not None and top.explain.similarity > 0
    assert top.explain.vector_rank == 1
    assert top.score == pytest.approx(top.explain.total)

    keyword = memory.search("Porto", user_id="alice", mode="keyword")
    assert [h.memory.content for h in keyword.hits] == ["Alice's brother lives in Porto"]
    assert keyword.hits[0].explain.similarity is None


def test_add_batch_answers_in_order(memory: Memory) -> None:
    items = [{"content": f"fact number {i}", "user_id": "u"} for i in range(5)]
    outcomes = memory.add_batch(items)
    assert len(outcomes) == 5
    for outcome, item in zip(outcomes, items):
        assert memory.get(outcome.id).content == item["content"]


def test_update_checks_the_expected_version(memory: Memory) -> None:
    added = memory.add("Lives in Lisbon", user_id="carol")
    updated = memory.update(added.id, content="Lives in Madrid", expected_version=1, reason="moved")
    assert updated.content == "Lives in Madrid"
    assert updated.version == 2
    with pytest.raises(memory_rs.Conflict) as stale:
        memory.update(added.id, importance=9, expected_version=1)
    assert "version" in stale.value.message
    events = memory.history(str(added.id))
    assert [e.op for e in events] == ["add", "update"]
    assert events[1].old_content == "Lives in Lisbon"
    assert events[1].new_content == "Lives in Madrid"


def test_delete_and_list_pages(memory: Memory) -> None:
    ids = [memory.add(f"note {i}", user_id="dave").id for i in range(5)]
    first = memory.list(user_id="dave", limit=3)
    assert len(first.items) == 3 and first.next_cursor is not None
    rest = memory.list(user_id="dave", limit=3, cursor=first.next_cursor)
    assert {r.id for r in first.items + rest.items} == set(ids)
    memory.delete(ids[0])
    with pytest.raises(memory_rs.NotFound):
        memory.get(ids[0])
    only = memory.list(user_id="dave", filter={"importance": {"gte": 5}}, limit=10)
    assert len(only.items) == 4


def test_supersede_and_as_of(memory: Memory) -> None:
    old = memory.add("Works at Acme", user_id="erin", valid_from=datetime(2024, 1, 1))
    new = memory.add("Works at Globex", user_id="erin", supersedes=old.id)
    now = memory.list(user_id="erin")
    assert [r.id for r in now.items] == [new.id]
    then = memory.list(user_id="erin", as_of=datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert [r.id for r in then.items] == [old.id]
    assert memory.get(old.id).superseded_by == new.id


def test_messages_recent_context_and_forget(memory: Memory) -> None:
    first = memory.record_message("s1", "Hi, I'm Frank and I love climbing", user_id="frank")
    again = memory.record_message("s1", "dup", user_id="frank", client_id="c-1")
    same = memory.record_message("s1", "dup", user_id="frank", client_id="c-1")
    assert same.duplicate and same.message.id == again.message.id
    memory.record_message("s1", "Nice to meet you, Frank!", role="assistant", agent_id="bot")
    memory.record_message("s1", "Hi all, Grace here", user_id="grace")
    recent = memory.recent("s1", limit=10)
    assert [m.content for m in recent][0] == first.message.content
    assert recent[1].role == "user" and recent[2].role == "assistant"

    memory.add("Frank climbs at the Arco gym on Tuesdays", user_id="frank", kind="event")
    memory.add("Frank's name is Frank Ocean", user_id="frank", kind="profile")
    ctx = memory.context("when does he go climbing?", user_id="frank", session_id="s1")
    assert any("Arco" in h.memory.content for h in ctx.memories)
    assert [p.content for p in ctx.profile] == ["Frank's name is Frank Ocean"]
    assert ctx.recent and "Arco" in ctx.text
    prompt = ctx.enhance("You are a climbing coach.")
    assert prompt.startswith("You are a climbing coach.\n\n") and ctx.text in prompt

    report = memory.forget(user_id="frank")
    assert len(report.memories) == 2 and report.messages == 2
    left = memory.recent("s1", limit=10)
    assert [m.content for m in left] == ["Nice to meet you, Frank!", "Hi all, Grace here"]


def test_stats_check_sync_status_and_jobs(memory: Memory) -> None:
    memory.add("Heidi plays the cello", user_id="heidi")
    assert memory.stats(user_id="heidi")["memories"] == 1
    engine = memory.stats()
    assert engine["store"]["memories"] == 1
    assert engine["embedder"].startswith("local:")
    check = memory.check()
    assert check.store_count == 1 and check.index_count == 1 and not check.missing_vectors
    assert memory.sync().failed == 0
    assert memory.status()["store"]
    assert memory.run_jobs().dead == 0
    assert not memory.worker_running


def test_tenants_are_apart(memory: Memory) -> None:
    other = memory.with_tenant("acme")
    mine = memory.add("Ivan likes chess", user_id="ivan")
    other.add("Ivan likes go", user_id="ivan")
    assert [h.memory.id for h in memory.search("chess", user_id="ivan").hits] == [mine.id]
    with pytest.raises(memory_rs.NotFound):
        other.get(mine.id)


def test_expiry_and_metadata_round_trip(memory: Memory) -> None:
    soon = datetime.now(timezone.utc) + timedelta(days=1)
    added = memory.add(
        "Judy is in Paris this week", user_id="judy", metadata={"city": "Paris", "n": [1, 2]}, expires_at=soon
    )
    record = memory.get(added.id)
    assert record.metadata == {"city": "Paris", "n": [1, 2]}
    assert record.expires_at is not None and abs((record.expires_at - soon).total_seconds()) < 1
    hits = memory.search("travel", user_id="judy", filter={"metadata.city": "Paris"}).hits
    assert [h.memory.id for h in hits] == [added.id]


def test_config_from_a_mapping_and_a_toml_file(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with Memory({"store": f"sqlite://{db}", "engine": {"default_k": 2}}, worker=False) as m:
        for i in range(4):
            m.add(f"Kim owns cat number {i}", user_id="kim")
        assert len(m.search("cat", user_id="kim").hits) == 2
    toml = tmp_path / "memory.toml"
    toml.write_text(f'store = "sqlite://{db}"\n[engine]\ndefault_k = 3\n')
    with Memory(toml, worker=False) as m:
        assert len(m.search("cat", user_id="kim").hits) == 3


def test_the_worker_runs_in_the_background(db: Path) -> None:
    with Memory(store=f"sqlite://{db}") as m:
        assert m.worker_running
        m.add("Leo sails", user_id="leo")
    assert not m.worker_running
    assert m.get(m.list(user_id="leo").items[0].id).content == "Leo sails"
