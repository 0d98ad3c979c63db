"""One file, two programs: what Python writes the `memory` CLI reads, and
the other way round."""

from __future__ import annotations

import json
from typing import Any
import subprocess
from pathlib import Path

from memory_rs import Memory


def run(memory_bin: str, db: Path, *args: str) -> Any:
    done = subprocess.run(
        [memory_bin, "--db", f"sqlite://{db}", "--json", *args],
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    return json.loads(done.stdout)


def test_the_cli_reads_what_python_wrote(db: Path, memory_bin: str) -> None:
    with Memory(store=f"sqlite://{db}", worker=False) as m:
        added = m.add("Trent plays the oboe", user_id="trent", kind="preference", importance=8)
        m.record_message("t1", "I have a concert on Friday", user_id="trent")
    listed = run(memory_bin, db, "list", "--user", "trent")
    assert isinstance(listed, dict)
    [item] = listed["items"]
    assert item["id"] == str(added.id) and item["content"] == "Trent plays the oboe"
    assert item["kind"] == "preference" and item["importance"] == 8
    found = run(memory_bin, db, "search", "which instrument does he play", "--user", "trent")
    assert isinstance(found, dict)
    assert found["hits"][0]["memory"]["id"] == str(added.id)
    recent = run(memory_bin, db, "recent", "--session", "t1")
    assert [m["content"] for m in recent] == ["I have a concert on Friday"]


def test_python_reads_what_the_cli_wrote(db: Path, memory_bin: str) -> None:
    added = run(memory_bin, db, "add", "Uma speaks Japanese", "--user", "uma")
    assert isinstance(added, dict)
    with Memory(store=f"sqlite://{db}", worker=False) as m:
        record = m.get(added["id"])
        assert record.content == "Uma speaks Japanese"
        assert m.search("languages", user_id="uma").hits[0].memory.id == record.id
