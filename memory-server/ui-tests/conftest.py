"""A real `memory serve` on loopback with two tenants' keys, data loaded
through the REST API, and headless Chromium driven by Selenium."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

KEY_A = "inspector-key-acme"
KEY_B = "inspector-key-beta"
KEY_ALICE = "inspector-key-alice-only"


@dataclass
class Server:
    """A running server and what was loaded into it."""

    base: str
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, key: str = KEY_A) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as res:
            text = res.read()
        return json.loads(text) if text else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(server: Server) -> None:
    """Two users of tenant acme sharing a session, memories of every kind
    for alice (one updated, one superseded), and a session summary."""
    add = lambda body: server.call("POST", "/v1/memories", body)["id"]  # noqa: E731
    server.ids["tea"] = add({"user_id": "alice", "content": "Alice drinks green tea every morning", "kind": "preference", "importance": 6})
    server.ids["porto"] = add({"user_id": "alice", "content": "Alice's brother lives in Porto", "importance": 4})
    server.ids["job"] = add({"user_id": "alice", "content": "Alice works as a nurse at Santa Maria", "kind": "fact", "importance": 7})
    server.ids["marathon"] = add({"user_id": "alice", "content": "Alice ran the Lisbon marathon in October", "kind": "event", "importance": 8})
    server.ids["old_city"] = add({"user_id": "alice", "content": "Alice lives in Coimbra", "importance": 5})
    server.ids["new_city"] = add(
        {"user_id": "alice", "content": "Alice lives in Lisbon", "importance": 5, "supersedes": server.ids["old_city"]}
    )
    server.call("PATCH", f"/v1/memories/{server.ids['job']}", {"content": "Alice works as a head nurse at Santa Maria", "reason": "promoted"})
    for i in range(22):
        add({"user_id": "alice", "content": f"Alice's reading list item {i}: a novel", "importance": 2})
    add({"user_id": "bob", "content": "Bob plays the trombone", "kind": "preference"})
    for user, text in [
        ("alice", "Morning! Any tips for a rainy long run?"),
        ("bob", "I'm Bob, I joined the stream late"),
        ("alice", "Thanks, I'll wear a cap"),
    ]:
        server.call("POST", "/v1/sessions/stream-1/messages", {"user_id": user, "content": text})
    server.call(
        "POST", "/v1/sessions/stream-1/messages", {"role": "assistant", "agent_id": "coach", "content": "Wear a cap and light layers."}
    )
    add({"user_id": "alice", "session_id": "stream-1", "kind": "summary", "content": "Alice asked for rainy-run tips; the coach suggested a cap."})
    server.call("POST", "/v1/memories", {"user_id": "carol", "content": "Carol of tenant beta likes tea"}, key=KEY_B)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = os.environ.get("MEMORY_BIN", "memory")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "memory.toml"
        config.write_text(
            f'store = "sqlite://{tmp}/inspector.db"\n'
            "[server]\n"
            f'listen = "127.0.0.1:{port}"\n'
            f'api_keys = [{{ key = "{KEY_A}", tenant = "acme" }}, {{ key = "{KEY_B}", tenant = "beta" }}, '
            f'{{ key = "{KEY_ALICE}", tenant = "acme", user_id = "alice" }}]\n'
            # The page and the loading here act on one user far more often
            # than seed 001's 30 a minute.
            "[engine.rate_limits]\nper_user_per_minute = 0\nper_key_per_minute = 0\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORY_") or k == "MEMORY_MODEL_DIR"}
        proc = subprocess.Popen(
            [binary, "--config", str(config), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        s = Server(f"http://127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(s.base + "/healthz", timeout=2).read()
                    break
                except (urllib.error.URLError, ConnectionError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        err = proc.stderr.read().decode() if proc.stderr else ""
                        pytest.fail(f"memory serve did not start: {err}")
                    time.sleep(0.2)
            load(s)
            yield s
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    out = Path(os.environ.get("MEMORY_UI_ARTIFACTS", "ui-screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
