"""Every error is a memory_rs.Error subclass named after its kind, with the
engine's message, and nothing stored is lost by a refused call."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import memory_rs
from memory_rs import Memory


def test_invalid_input_names_the_field(memory: Memory) -> None:
    with pytest.raises(memory_rs.InvalidInput) as e:
        memory.add("", user_id="a")
    assert isinstance(e.value, ValueError) and isinstance(e.value, memory_rs.Error)
    assert e.value.kind == "invalid_input" and "content" in e.value.message
    with pytest.raises(memory_rs.InvalidInput) as e:
        memory.add("x", user_id="a", importance=42)
    assert "importance" in str(e.value)
    with pytest.raises(memory_rs.InvalidInput) as e:
        memory.add("no owner")
    assert "user_id" in e.value.message
    with pytest.raises(memory_rs.InvalidInput) as e:
        memory.search("x", user_id="a", filter={"colour": "red"})
    assert "colour" in e.value.message
    with pytest.raises(memory_rs.InvalidInput) as e:
        memory.add_batch([{"content": "x", "user_id": "a", "colour": "red"}])
    assert "colour" in e.value.message
    with pytest.raises(memory_rs.InvalidInput) as e:
        memory.get("not-a-uuid")
    assert "UUID" in e.value.message or "uuid" in e.value.message


def test_not_found_is_a_lookup_error(memory: Memory) -> None:
    with pytest.raises(LookupError) as e:
        memory.get(uuid.uuid4())
    assert isinstance(e.value, memory_rs.NotFound) and e.value.kind == "not_found"
    with pytest.raises(memory_rs.NotFound):
        memory.delete(uuid.uuid4())


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(memory_rs.ConfigError) as e:
        Memory({"store": f"sqlite://{tmp_path}/x.db", "engin": {}})
    assert "engin" in e.value.message
    bad = tmp_path / "bad.toml"
    bad.write_text('store = "sqlite://x.db"\n[engine]\ndefault_k = "many"\n')
    with pytest.raises(memory_rs.ConfigError) as e:
        Memory(bad)
    assert "bad.toml" in e.value.message
    with pytest.raises(memory_rs.ConfigError):
        Memory(tmp_path / "missing.toml")
    with pytest.raises(memory_rs.ConfigError) as e:
        Memory(store="nosuch://somewhere")
    assert "nosuch" in e.value.message


def test_refused_calls_keep_what_is_stored(memory: Memory) -> None:
    kept = memory.add("Quentin collects stamps", user_id="q")
    for bad in ({"content": ""}, {"importance": -1}, {"kind": ""}):
        with pytest.raises(memory_rs.InvalidInput):
            memory.update(kept.id, **bad)
    with pytest.raises(memory_rs.InvalidInput):
        memory.add_batch([{"content": "fine", "user_id": "q"}, {"content": "", "user_id": "q"}])
    record = memory.get(kept.id)
    assert record.content == "Quentin collects stamps" and record.version == 1
    assert [r.id for r in memory.list(user_id="q").items] == [kept.id]
