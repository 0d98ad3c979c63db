"""Extraction and the worker's entry points from Python, with a local server
speaking OpenAI's chat-completions wire format as the language model (the
one stand-in allowed: OpenAI is a paid remote API)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from memory_rs import Memory


class StandIn:
    """Answers each completion with the next scripted content, else an
    extraction of nothing; keeps the request bodies."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append(body)
                content = stand_in.replies.pop(0) if stand_in.replies else {"memories": [], "summary": None}
                answer = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": json.dumps(content)},
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    s = StandIn()
    monkeypatch.setenv("OPENAI_BASE_URL", s.base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    yield s
    s.server.shutdown()


def test_extract_end_session_and_run_jobs(db: Path, llm: StandIn) -> None:
    with Memory(store=f"sqlite://{db}", language_model="openai:llama3?max_retries=0", worker=False) as m:
        m.record_message("s1", "Hi! I moved to Lisbon last month", user_id="xavier")
        m.record_message("s1", "Welcome to Lisbon!", role="assistant", agent_id="bot")
        llm.replies.append(
            {
                "memories": [
                    {
                        "content": "Xavier lives in Lisbon",
                        "kind": "fact",
                        "importance": 7,
                        "confidence": 1,
                        "happened_at": None,
                        "source_ids": ["m1"],
                    }
                ],
                "summary": "Xavier moved to Lisbon.",
            }
        )
        report = m.extract("s1")
        assert (report.messages, report.added, report.summarized) == (2, 1, True)
        assert llm.requests[0]["response_format"]["json_schema"]["name"] == "extraction"
        [fact] = m.list(user_id="xavier", filter={"kind": "fact"}).items
        assert fact.content == "Xavier lives in Lisbon"
        assert len(fact.source_message_ids) == 1

        m.record_message("s1", "I work as a nurse", user_id="xavier")
        ended = m.end_session("s1")
        assert ended.ended_at is not None
        asked = len(llm.requests)
        ran = m.run_jobs()
        assert ran.completed >= 1 and ran.dead == 0
        assert len(llm.requests) > asked
