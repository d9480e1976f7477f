"""A small OpenAI-compatible chat server on 127.0.0.1 for page and CLI tests of the LLM workflow.

It is a stand-in for a served instruct model whose behaviour is scripted and plain to read: asked to write a query it
answers a question about the passage's longest word (in Chinese when the prompt asks for Chinese); asked for a grade
it answers 2 when the query and passage share a word of four letters or more (or a Han bigram), else 0. The tests
that use it are about the pages and commands around an LLM, not about a model's judgement.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_WORD = re.compile(r"[A-Za-z]{4,}")
_HAN = re.compile(r"[\u4e00-\u9fff]{2,}")


def _terms(text: str) -> set[str]:
    words = {w.lower() for w in _WORD.findall(text)}
    for run in _HAN.findall(text):
        words |= {run[i : i + 2] for i in range(len(run) - 1)}
    return words


def reply_to(messages: list[dict]) -> str:
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if "Grade the passage" in user:
        query = user.split("Query:", 1)[1].split("Passage:", 1)[0]
        passage = user.split("Passage:", 1)[1]
        return "2" if _terms(query) & _terms(passage) else "0"
    passage = user.split("Passage:", 1)[-1].split("\n\nWrite", 1)[0]
    words = sorted(_WORD.findall(passage), key=lambda w: (-len(w), w))
    word = words[0] if words else "this"
    if "Chinese" in user:
        han = _HAN.findall(passage)
        topic = max(han, key=len)[:4] if han else word
        return f"{topic}是怎么工作的？"
    return f"How does {word} work in practice?"


class ChatServer:
    """``with ChatServer() as server: server.base_url`` (…/v1); ``server.calls`` counts the answers given."""

    def __init__(self) -> None:
        outer = self
        self.calls = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.calls += 1
                text = reply_to(body.get("messages", []))
                answer = {
                    "id": "c",
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"completion_tokens": 8},
                }
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
