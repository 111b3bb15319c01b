"""Issue 8, item 9: a question the relevance gate refuses never waits for the model.

The probe sent 30 refused asks at once while the model was busy and got "model busy" 503s:
every ask took a model slot before the gate had looked at it. Now the slot is taken when the
model is about to run (``Assistant.stream(slot=...)``), through the REST API and the chat.

Against ``rag serve`` with fake models (``relkit.app_server``): ``HOLD`` in a question keeps
the fake model busy until the test lets it go.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from relkit import AppServer, app_server, in_threads

from rag.config import ServeSettings

pytestmark = pytest.mark.enable_socket

TODAY = "2024-12-01"
HELD = "When did the Harbour Bridge open HOLD?"
# About nothing the articles mention: the gate refuses it before the model.
REFUSED = ["What is the capital of Mongolia?", "Who won the chess olympiad in Chennai?",
           "How tall is Kilimanjaro?"]  # fmt: skip
SLOTS = ServeSettings().model_slots


def _ask(server: AppServer, question: str, stream: bool = False) -> httpx.Response:
    body = {"question": question, "today": TODAY, "stream": stream}
    return httpx.post(f"{server.url}/api/ask", json=body, timeout=120)


def _until(done: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if done():
            return
        threading.Event().wait(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_refused_asks_never_get_model_busy_over_rest(tmp_path):
    with app_server(tmp_path) as server:
        # Questions that reach the held model, until every model slot is taken: a held one
        # keeps its slot (no answer yet), the first one without a slot is told the model is
        # busy.
        holders: list[dict[str, Any]] = []
        threads: list[threading.Thread] = []
        busy = None
        try:
            while busy is None and len(holders) <= SLOTS:
                result: dict[str, Any] = {}

                def hold(result: dict[str, Any] = result) -> None:
                    result["response"] = _ask(server, HELD, stream=len(holders) % 2 == 1)

                thread = threading.Thread(target=hold)
                thread.start()
                thread.join(timeout=3)
                if "response" in result and result["response"].status_code == 503:
                    busy = result["response"]
                else:
                    holders.append(result)
                    threads.append(thread)
            assert busy is not None and len(holders) == SLOTS, len(holders)
            assert int(busy.headers["retry-after"]) > 0 and "busy" in busy.json()["error"]

            # The probe: 30 refused asks at once, some streamed: answered, none busy.
            jobs = [
                lambda i=i: _ask(server, REFUSED[i % len(REFUSED)], stream=i % 3 == 0)
                for i in range(30)
            ]
            responses, errors = in_threads(jobs, timeout=120)
            assert errors == []
            statuses = [r.status_code for r in responses]
            assert statuses == [200] * 30, statuses
            for response in responses:
                text = response.text
                assert "abstain" in text and "busy" not in text, text[:300]
        finally:
            server.release()
            for thread in threads:
                thread.join(timeout=120)
        assert [h["response"].status_code for h in holders] == [200] * SLOTS
        # Every slot came back.
        assert _ask(server, "How long is the Harbour Bridge?").status_code == 200


def test_refused_chat_questions_are_answered_while_the_model_is_busy(tmp_path):
    from gradio_client import Client

    with app_server(tmp_path) as server:
        holder = Client(server.url, verbose=False)
        holder.predict(HELD, api_name="/submit")
        held = holder.submit(6, None, None, TODAY, api_name="/answer")
        try:
            _until(lambda: held.status().code.name in ("PROCESSING", "ITERATING"), "HOLD")

            def refused(question: str) -> str:
                client = Client(server.url, verbose=False)
                client.predict(question, api_name="/submit")
                chat = client.submit(6, None, None, TODAY, api_name="/answer").result(60)
                return str(chat[-1]["content"])

            answers, errors = in_threads([lambda q=q: refused(q) for q in REFUSED], timeout=90)
            assert errors == [], errors
            for answer in answers:
                assert "nq-abstain" in answer, answer[:300]
            assert held.status().code.name in ("PROCESSING", "ITERATING")  # still held
        finally:
            server.release()
        assert "nq-chip" in str(held.result(120)[-1]["content"])
