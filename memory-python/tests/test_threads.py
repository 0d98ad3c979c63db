"""The blocking client shared by many threads: the GIL is released while the
engine works, and every write lands."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from memory_rs import Memory


def test_threads_share_one_client(memory: Memory) -> None:
    def work(i: int) -> str:
        added = memory.add(f"Rupert's thread fact {i}", user_id=f"rupert{i % 3}")
        memory.search(f"fact {i}", user_id=f"rupert{i % 3}")
        return str(added.id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(work, range(32)))
    assert len(set(ids)) == 32
    assert sum(memory.stats(user_id=f"rupert{u}")["memories"] for u in range(3)) == 32


def test_other_threads_run_while_one_waits(memory: Memory) -> None:
    # With a long switch interval a thread holding the GIL keeps it: the
    # counter can only run during the call if the engine let the GIL go.
    inside = 0
    calling = threading.Event()
    stop = threading.Event()

    def count() -> None:
        nonlocal inside
        while not stop.is_set():
            if calling.is_set():
                inside += 1

    interval = sys.getswitchinterval()
    counter = threading.Thread(target=count)
    counter.start()
    try:
        sys.setswitchinterval(1.0)
        calling.set()
        memory.add_batch([{"content": f"Sybil's note {i} " * 8, "user_id": "sybil"} for i in range(64)])
        calling.clear()
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        counter.join()
    assert inside > 0
