"""Issue 8, items 3, 4, 7 and 10: input that used to end a batch, a request or a command.

* One bad file (JSON nested 100,000 deep, a record with a number for its url, a lone
  surrogate escape) is a failure of that file or record with its reason; the rest of the
  batch is stored, through the CLI, the library and the REST API alike.
* A question holding a lone surrogate and dates at the calendar's ends are one clear error
  (400, or one line from the CLI), never a 500 or a traceback.
* Property-based (``hypothesis``): questions of any code point, any dates, and nested and
  mistyped JSON records never make the API answer 500, the CLI print a traceback or ingest
  raise.
* Uploads never write through a link planted in ``store/uploads/``; no upload is kept.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from relkit import (
    FakeLlama,
    KeywordEmbedder,
    assert_one_line_error,
    assert_store_consistent,
    fake_llama_chat,
    patch_cli,
    run_cli,
)

from rag.assistant import Assistant
from rag.chunk import split_article
from rag.config import Settings, StoreSettings
from rag.errors import InvalidQuestionError, RagError
from rag.types import Article
from ui.access import Access
from ui.api import create_api
from ui.policy import Policy

TODAY = "2024-12-01"
GOOD_A = "# Tram line opens\n2024-11-20\n\nThe new tram line to the harbour opened on Monday.\n"
GOOD_C = "# Bakery award\n2024-11-21\n\nThe corner bakery won the national bread award.\n"
DEEP = "[" * 100_000 + "]" * 100_000
SETTINGS = hypothesis.settings(
    max_examples=60, deadline=None, database=None, derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)  # fmt: skip

# Any code point, lone surrogates included (hypothesis leaves category Cs out by default).
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
EDGE_DAYS = st.sampled_from(
    [date.min, date(1, 1, 5), date(1, 1, 11), date(1800, 12, 31), date(2200, 1, 1),
     date(9999, 12, 21), date.max]
)  # fmt: skip
ANY_DAY = st.one_of(st.none(), st.dates(), EDGE_DAYS)


def _assistant(root: Path) -> Assistant:
    """A store holding two good articles; a fake model that quotes the first passage."""
    settings = Settings(store=StoreSettings(path=root / "store"))
    chat = fake_llama_chat(FakeLlama())
    a = Assistant(settings, llm=chat, embedder=KeywordEmbedder())  # type: ignore[arg-type]
    folder = root / "good"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.md").write_text(GOOD_A)
    (folder / "c.md").write_text(GOOD_C)
    assert len(a.ingest([folder]).added) == 2
    return a


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    return _assistant(tmp_path)


@pytest.fixture
def api(assistant: Assistant) -> Iterator[TestClient]:
    app = Policy(create_api(assistant), access=Access(), settings=assistant.settings)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


def post_json(client: TestClient, path: str, body: Any) -> Any:
    """POST ``body`` as JSON with ASCII escapes (``"\\ud800"``), as a script would send it."""
    headers = {"content-type": "application/json"}
    return client.post(path, content=json.dumps(body), headers=headers)


def _titles(a: Assistant) -> set[str]:
    return {x.title for x in a.list_articles()}


# ---- item 3: one bad file, not the whole batch --------------------------------------------------


def _batch(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.md").write_text(GOOD_A)
    (folder / "b.json").write_text(DEEP)
    (folder / "c.md").write_text(GOOD_C)


def test_cli_ingest_stores_the_batch_around_a_deeply_nested_file(tmp_path, monkeypatch):
    folder, store = tmp_path / "dir", tmp_path / "store"
    _batch(folder)
    patch_cli(monkeypatch, KeywordEmbedder())
    result = run_cli("ingest", str(folder), "--store", str(store))  # a traceback fails here
    assert result.exit_code == 1  # some file failed
    assert f"failed: {folder / 'b.json'}: invalid JSON: nested too deeply" in result.output
    assert "2 added, 0 updated, 0 unchanged, 1 failed" in result.output
    listed = json.loads(run_cli("list", "--json", "--store", str(store)).stdout)
    assert {a["title"] for a in listed} == {"Tram line opens", "Bakery award"}


@pytest.mark.parametrize(
    ("name", "content", "stored", "reason"),
    [
        ("deep.json", DEEP, 0, "nested too deeply"),
        ("url.json", json.dumps([{"text": "A ferry sailed.", "url": 5},
                                 {"text": "A plane landed.", "url": "https://x.example/1"}]),
         1, "'url' must be a string, not int"),
        ("surrogate.jsonl", '{"text": "Lone \\ud800 surrogate in a report."}\n'
                            '{"text": "Another report.", "doc_id": "other"}\n', 2, ""),
        ("deep-line.jsonl", '{"text": "Fine line."}\n' + DEEP + "\n", 1, "nested too deeply"),
        ("types.json", json.dumps([{"text": ["a"]}, {"text": "t", "title": {"x": 1}},
                                   {"text": "t", "doc_id": True},
                                   {"text": "ok", "published": [1]}]), 1, "must be a string"),
    ],
)  # fmt: skip
def test_a_bad_record_is_a_failure_of_that_record(
    assistant, tmp_path, name, content, stored, reason
):
    path = tmp_path / name
    path.write_text(content)
    report = assistant.ingest([path])  # never raises
    assert len(report.added) == stored, report
    if reason:
        assert report.failed and all(reason in r or "must be" in r for _, r in report.failed)
    assert_store_consistent(assistant.store)
    for info in assistant.list_articles():  # a lone surrogate became U+FFFD: storable text
        stored_text = assistant.article(info.doc_id).text  # type: ignore[union-attr]
        stored_text.encode("utf-8")


def test_rest_ingest_of_the_batch_stores_the_good_files(api, assistant):
    files = [("files", ("a.md", GOOD_A.replace("harbour", "airport"))),
             ("files", ("b.json", DEEP)), ("files", ("c.md", GOOD_C + "More."))]  # fmt: skip
    r = api.post("/api/ingest", files=files)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["failed"] == [["b.json", "invalid JSON: nested too deeply"]]
    assert len(report["added"]) == 2
    assert not any((assistant.settings.store_path / "uploads").iterdir())  # nothing left behind
    # A lone surrogate escape is not valid JSON text for the API's strict parser: 422, not 500
    # (in an uploaded .jsonl file it becomes U+FFFD, above).
    r = post_json(api, "/api/ingest", [{"title": "t", "text": "Lone \ud800 surrogate."}])
    assert r.status_code == 422 and "hex escape" in r.json()["error"], r.text
    r = api.post("/api/ingest", content=DEEP, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


RECORD_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
RECORDS = st.lists(
    st.dictionaries(
        st.sampled_from(["doc_id", "id", "title", "text", "url", "published", "date", "x"]),
        RECORD_VALUES,
    )
    | RECORD_VALUES,
    max_size=4,
)


def test_any_json_records_are_stored_or_failed_never_raise(tmp_path):
    a = _assistant(tmp_path)
    counter = itertools.count()

    @hypothesis.given(records=RECORDS, deep=st.integers(0, 3))
    @SETTINGS
    def check(records: list[Any], deep: int) -> None:
        n = next(counter)
        as_json = json.dumps(records)
        if deep:  # and some bodies no parser can descend
            as_json = "[" * 10**deep * 50 + as_json + "]" * 10**deep * 50
        json_file = tmp_path / f"r{n}.json"
        json_file.write_text(as_json)
        lines = tmp_path / f"r{n}.jsonl"
        lines.write_text("\n".join(json.dumps(r) for r in records) or "{}")
        report = a.ingest([json_file, lines])
        assert all(reason for _, reason in report.failed)

    check()
    assert_store_consistent(a.store)


# ---- item 4: questions and dates --------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_rest_ask_bad_text_and_dates_are_400_not_500(api, stream):
    bad = [
        ({"question": "tram \ud800 line"}, "not valid text"),
        ({"question": "When did the tram line open?", "today": "0001-01-05"}, "today 0001-01-05"),
        ({"question": "When did the tram line open?", "until": "0001-01-01"}, "until"),
        ({"question": "When did the tram line open?", "since": "9999-12-31"}, "since"),
        ({"question": "When did the tram line open?", "today": "9999-12-31"}, "today"),
    ]
    for body, words in bad:
        r = post_json(api, "/api/ask", {**body, "stream": stream})
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert words in r.json()["error"], r.json()


def test_cli_bad_text_and_dates_are_one_line_errors(assistant, monkeypatch):
    patch_cli(monkeypatch, KeywordEmbedder(), assistant.llm)
    store = str(assistant.store.path)
    # What a shell passes for $(printf 'tram \xff'): the byte as a surrogate escape.
    query = os.fsdecode(b"tram \xff")
    assert_one_line_error(run_cli("search", query, "--store", store), "not valid text")
    assert_one_line_error(run_cli("ask", query, "--store", store), "not valid text")
    result = run_cli("ask", "--today", "0001-01-05", "When did the tram open?", "--store", store)
    assert_one_line_error(result, "today 0001-01-05 is outside the dates")
    result = run_cli("search", "--today", "9999-12-31", "tram", "--store", store)
    assert_one_line_error(result, "today 9999-12-31")


def test_any_question_and_dates_never_give_a_500(api):
    @hypothesis.given(
        question=ANY_TEXT, today=ANY_DAY, since=ANY_DAY, until=ANY_DAY, stream=st.booleans(),
        history=st.lists(st.tuples(ANY_TEXT, ANY_TEXT), max_size=2),
    )  # fmt: skip
    @SETTINGS
    def check(question: str, today: Any, since: Any, until: Any, stream: bool,
              history: list[tuple[str, str]]) -> None:  # fmt: skip
        body: dict[str, Any] = {"question": question, "stream": stream}
        body["history"] = [{"question": q, "answer": a} for q, a in history]
        for key, day in (("today", today), ("since", since), ("until", until)):
            if day is not None:
                body[key] = day.isoformat()
        r = post_json(api, "/api/ask", body)
        assert r.status_code < 500, (body, r.status_code, r.text)
        if r.status_code >= 400 or not stream:
            assert "error" in r.json() or "answer" in r.json(), r.text
        else:  # a stream ends with the answer or a readable error, never the internal one
            assert "event: answer" in r.text or "event: error" in r.text, r.text
            assert "internal error" not in r.text, r.text

    check()


def test_any_question_and_dates_are_answered_or_a_rag_error(assistant):
    @hypothesis.given(question=ANY_TEXT, today=ANY_DAY, since=ANY_DAY, until=ANY_DAY)
    @SETTINGS
    def check(question: str, today: Any, since: Any, until: Any) -> None:
        try:
            answer = assistant.ask(question, today=today, since=since, until=until)
        except RagError:
            return
        json.dumps(answer.to_dict()).encode("utf-8")  # printable and storable as it is

    check()


def test_cli_any_query_is_a_result_or_one_line(assistant, monkeypatch):
    patch_cli(monkeypatch, KeywordEmbedder(), assistant.llm)
    store = str(assistant.store.path)

    @hypothesis.given(query=ANY_TEXT.filter(lambda q: "\x00" not in q), today=ANY_DAY)
    @hypothesis.settings(SETTINGS, max_examples=30)
    def check(query: str, today: Any) -> None:
        args = ["search", query, "--store", store, "--json"]
        if today is not None:
            args += ["--today", today.isoformat()]
        result = run_cli(*args)  # a traceback fails the test
        if result.exit_code:
            assert_one_line_error(result)

    check()


def test_question_validation_happens_before_any_work(assistant):
    embedded = assistant.embedder.calls
    for question in ("tram \udcff", "\ud800"):
        with pytest.raises(InvalidQuestionError, match="not valid text"):
            assistant.ask(question)
    with pytest.raises(InvalidQuestionError, match="outside the dates"):
        assistant.ask("When did the tram open?", today=date(1, 1, 5))
    assert assistant.embedder.calls == embedded


# ---- item 7: uploads never write through links --------------------------------------------------


def test_an_upload_does_not_write_through_a_planted_symlink(assistant, api, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    uploads = assistant.settings.store_path / "uploads"
    uploads.mkdir(exist_ok=True)
    (uploads / "story.md").symlink_to(victim)
    (uploads / "gone.md").symlink_to(tmp_path / "nowhere.txt")  # dangling: created if followed

    for name in ("story.md", "gone.md"):
        r = api.post("/api/ingest", files={"files": (name, GOOD_A.replace("tram", "ferry"))})
        assert r.status_code == 200 and (r.json()["added"] or r.json()["updated"]), r.text
    assert victim.read_text() == "precious"
    assert not (tmp_path / "nowhere.txt").exists()
    assert list(uploads.iterdir()) == []  # the links were replaced, then the uploads removed

    (uploads / "dir.md").mkdir()  # not a file: refused with a reason, nothing written
    r = api.post("/api/ingest", files={"files": ("dir.md", GOOD_A)})
    assert r.status_code == 400 and "is a folder" in r.json()["error"], r.text


def test_an_uploads_folder_that_is_a_link_is_refused(assistant, api, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (assistant.settings.store_path / "uploads").symlink_to(elsewhere)
    r = api.post("/api/ingest", files={"files": ("story.md", GOOD_A)})
    assert r.status_code == 400 and "not a link" in r.json()["error"], r.text
    assert list(elsewhere.iterdir()) == []


# ---- item 10: records, chunks, uploads -----------------------------------------------------


def test_max_records_is_enforced(assistant):
    small = assistant.settings.with_overrides(serve={"max_records": 3})
    client = TestClient(create_api(assistant, small), raise_server_exceptions=False)
    record = {"title": "t", "text": "Some text."}
    assert client.post("/api/ingest", json=[record] * 4).status_code == 422
    assert client.post("/api/ingest", json=[record] * 3).status_code == 200
    default = TestClient(create_api(assistant), raise_server_exceptions=False)
    r = default.post("/api/ingest", json=[record] * 10_001)
    assert r.status_code == 422 and "10000" in r.json()["error"].replace(",", ""), r.text


def test_a_word_of_400_kb_is_not_one_chunk(assistant):
    text = "The tram opened. " + "x" * 400_000 + " It was late."
    chunks = split_article(Article("w", "Word", text, "w.md"), KeywordEmbedder().tokenizer)
    assert max(len(c.text) for c in chunks) <= 2_000
    assert "".join(c.text for c in chunks if "x" in c.text).count("x") >= 400_000


def test_json_ingests_keep_each_others_articles_and_no_file(api, assistant):
    first = api.post("/api/ingest", json=[{"title": "Dock", "text": "The dock reopened."}])
    second = api.post("/api/ingest", json=[{"title": "Mill", "text": "The mill burned."}])
    assert first.status_code == second.status_code == 200
    assert {"Dock", "Mill"} <= _titles(assistant)
    assert not any((assistant.settings.store_path / "uploads").iterdir())


def test_a_failed_upload_leaves_nothing_behind(assistant, monkeypatch):
    def refuse(paths: Any, progress: bool = False) -> Any:
        raise RagError("Another process is writing to this store.")

    monkeypatch.setattr(assistant, "ingest", refuse)
    with pytest.raises(RagError):
        assistant.ingest_upload("records.jsonl", b'{"text": "x"}')
    assert not any((assistant.settings.store_path / "uploads").iterdir())


def test_the_model_name_is_never_a_path(assistant):
    chat = assistant.llm
    chat.model_path = "/home/someone/models/qwen-secret.gguf"  # type: ignore[attr-defined]
    assert assistant.model_name == "qwen-secret.gguf"
