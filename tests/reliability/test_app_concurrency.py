"""Issue 7, item 5: many users at once through the running app (HTTP, ``gradio_client``).

``rag serve`` runs in a child process with fake models (``serve_child.py``): the command, the
Gradio app, its queue and the whole pipeline are real. Twenty users, each with their own
session, ask at the same moment: every one gets a complete, cited answer to their own question
(the fake model answers from the passage sentence that matches the question; five waves of
them under ``NEWSQA_STRESS=1``). Then the model and every question slot are held busy and the
queue is filled: the next users are told the queue is full (HTTP 503, "try again"), never a
500 or a hang, and the server goes on answering afterwards.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.utils import QueueError
from relkit import STRESS, AppServer, app_server, in_threads
from test_concurrency import ANSWERS, QUESTIONS

from rag.config import ServeSettings

QUEUE_SIZE = ServeSettings().queue_size
CHAT_CONCURRENCY = ServeSettings().chat_concurrency

pytestmark = pytest.mark.enable_socket

TODAY = "2024-12-01"
K = 6  # sources per answer (the Settings slider)
ROUNDS = 5 if STRESS else 1  # waves of twenty users at once
ANSWER_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with app_server(tmp_path_factory.mktemp("app")) as running:
        yield running


def _client(server: AppServer) -> Client:
    return Client(server.url, verbose=False, httpx_kwargs={"timeout": 60})


def _ask(client: Client, question: str) -> str:
    """Ask like the page does (show the question, then answer in the queue): the final HTML."""
    client.predict(question, api_name="/submit")
    chat = client.submit(K, None, None, TODAY, api_name="/answer").result(ANSWER_TIMEOUT_S)
    return _content(chat[-1])


def _content(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _check_complete_and_cited(question: str, answer: str, expected: str) -> None:
    """The answer is final, cites a card, says what that card highlights, and says ``expected``."""
    assert "nq-error" not in answer and "nq-abstain" not in answer, (question, answer)
    assert "nq-streaming" not in answer and "nq-cursor" not in answer, (question, answer)
    chips = re.findall(r'<a class="nq-chip" href="#(nq-\d+-\d+)"', answer)
    assert chips, (question, answer)
    for card in chips:
        assert f'id="{card}"' in answer, (question, card)
    text = answer.split('<div class="nq-sources">')[0]
    said = _plain(re.sub(r'<a class="nq-chip".*?</a>', "", text)).rstrip(" .")
    marks = [_plain(m).rstrip(" .") for m in re.findall(r"<mark>(.*?)</mark>", answer)]
    # The fake model quotes a passage: its reply, whole, contains the highlighted sentence.
    assert said and any(m and m in said for m in marks), (question, said, marks)
    assert expected in said, (question, expected, said)  # this user's answer, no other's


def test_the_queue_holds_twenty_waiting_users():
    """The model serves one question at a time, so 20 users at once means 19 waiting."""
    assert QUEUE_SIZE + CHAT_CONCURRENCY - 1 >= 20


@pytest.mark.parametrize("wave", range(ROUNDS))
def test_twenty_users_at_once_get_complete_cited_answers(server, wave):
    questions = QUESTIONS[wave % len(QUESTIONS) :] + QUESTIONS[: wave % len(QUESTIONS)]
    clients = [_client(server) for _ in questions]

    answers, errors = in_threads(
        [lambda c=c, q=q: _ask(c, q) for c, q in zip(clients, questions, strict=True)],
        timeout=ANSWER_TIMEOUT_S + 60,
    )

    assert errors == [], errors
    for question, answer in zip(questions, answers, strict=True):
        _check_complete_and_cited(question, answer, ANSWERS[question])
    assert server.proc.poll() is None
    assert not any("Traceback" in line for line in server.log), "".join(server.log)


def _join(url: str, fn: dict[str, Any], session: str) -> httpx.Response:
    """Join the queue for ``fn`` (a dependency of /config) as a new session, without waiting."""
    body = {"data": [None] * len(fn["inputs"]), "fn_index": fn["id"], "session_hash": session,
            "event_data": None, "trigger_id": None}  # fmt: skip
    return httpx.post(f"{url}/gradio_api/queue/join", json=body, timeout=30)


def test_a_full_queue_answers_busy_try_again_and_recovers(server):
    # Questions are handled CHAT_CONCURRENCY at a time: the first held question keeps the
    # model, the others wait for it, and every later event waits in the queue.
    held = []
    for _ in range(CHAT_CONCURRENCY):
        holder = _client(server)
        holder.predict("When did the Harbour Bridge open HOLD?", api_name="/submit")
        held.append(holder.submit(K, None, None, TODAY, api_name="/answer"))
    config = httpx.get(f"{server.url}/config", timeout=30).json()
    answer_fn = next(d for d in config["dependencies"] if d.get("api_name") == "answer")
    try:
        # Wait until every held answer is being handled, so that the queue starts empty.
        for _ in range(600):
            if all(h.status().code.name in ("PROCESSING", "ITERATING") for h in held):
                break
            threading.Event().wait(0.05)
        else:
            pytest.fail(f"the held answers never started: {[h.status() for h in held]}")

        waiting = [_join(server.url, answer_fn, f"waiting{i}") for i in range(QUEUE_SIZE)]
        assert [r.status_code for r in waiting] == [200] * QUEUE_SIZE, [r.text for r in waiting]

        extra = [_join(server.url, answer_fn, f"extra{i}") for i in range(3)]
        for response in extra:
            assert response.status_code == 503, (response.status_code, response.text)
            assert "Queue is full" in json.loads(response.text)["detail"]
        with pytest.raises(QueueError, match="Queue is full! Please try again"):
            _ask(_client(server), "How long is the Harbour Bridge?")
    finally:
        server.release()

    for one in held:
        held_answer = _content(one.result(ANSWER_TIMEOUT_S)[-1])
        expected = ANSWERS["When did the Harbour Bridge open?"]
        _check_complete_and_cited("held", held_answer, expected)
    # The queue drains, and the next user is answered as usual.
    later_question = "Which bakery won the national bread award?"
    later = _ask(_client(server), later_question)
    _check_complete_and_cited(later_question, later, ANSWERS[later_question])
    assert server.proc.poll() is None
