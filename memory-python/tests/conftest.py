"""Fixtures: a fresh SQLite file per test, opened on the embedded default
(the local model), without a background worker unless a test asks."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from memory_rs import AsyncMemory, Memory


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


@pytest.fixture
def memory(db: Path) -> Iterator[Memory]:
    with Memory(store=f"sqlite://{db}", worker=False) as m:
        yield m


@pytest.fixture
async def amemory(db: Path) -> AsyncIterator[AsyncMemory]:
    async with await AsyncMemory.open(store=f"sqlite://{db}", worker=False) as m:
        yield m


@pytest.fixture
def memory_bin() -> str:
    """The `memory` CLI: MEMORY_BIN, else the workspace's debug build."""
    given = os.environ.get("MEMORY_BIN")
    if given:
        return given
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "memory-target")
    built = Path(target) / "debug" / "memory"
    if built.exists():
        return str(built)
    found = shutil.which("memory")
    if found is None:
        pytest.fail("no `memory` binary: build it (cargo build -p memory-server) or set MEMORY_BIN")
    return found
