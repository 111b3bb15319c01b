"""Issue 7, item 3: one writer at a time across processes; readers are never blocked.

While another process holds the store's ``write.lock``, a second writer gets
``StoreLockedError`` (the CLI a one-line error) and the store is left exactly as it was;
listing, searching and asking keep working. Two writers that start together both finish,
one batch at a time. A long-lived process (the UI) sees what another process ingested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from relkit import (
    CHILD,
    FakeLlama,
    KeywordEmbedder,
    assert_one_line_error,
    assert_store_consistent,
    expected_chunk_ids,
    fake_llama_chat,
    patch_cli,
    run_cli,
    self_retrieval,
    write_corpus,
)

from rag.assistant import Assistant
from rag.config import Settings, StoreSettings
from rag.errors import StoreLockedError
from rag.store import LocalStore

TODAY = date(2025, 1, 1)


def _child(*args: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def held(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """A store with 12 articles whose write lock another process holds; and a new article."""
    root = tmp_path_factory.mktemp("locked")
    path, corpus, new = root / "store", root / "corpus.jsonl", root / "new.jsonl"
    write_corpus(corpus, 12)
    write_corpus(new, 1, start=500)
    settings = Settings(store=StoreSettings(path=path))
    store = LocalStore(path)
    Assistant(settings, embedder=KeywordEmbedder(), store=store).ingest([corpus])  # type: ignore[arg-type]
    store.close()
    proc = _child("hold", str(path))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked", (
            proc.stderr.read() if proc.stderr else ""
        )
        yield path, new
    finally:
        proc.communicate("\n", timeout=60)


def test_second_writer_gets_store_locked_error_and_changes_nothing(held):
    path, new = held
    store = LocalStore(path, lock_timeout=0.2)
    settings = Settings(store=StoreSettings(path=path))
    chat = fake_llama_chat(FakeLlama())
    assistant = Assistant(settings, llm=chat, embedder=KeywordEmbedder(), store=store)  # type: ignore[arg-type]
    before = store.chunk_ids()

    with pytest.raises(StoreLockedError, match="Another process is writing to the store"):
        assistant.ingest([new])
    with pytest.raises(StoreLockedError):
        assistant.delete("gen-00003")
    assert store.chunk_ids() == store.vector_ids() == before
    assert_store_consistent(store)

    # Readers are not blocked.
    assert len(assistant.list_articles()) == 12
    hits = assistant.retrieve("Generated report 3 about item kw3x", today=TODAY)
    assert "gen-00003" in [h.doc_id for h in hits]
    ans = assistant.ask("What does generated report 3 about item kw3x mention?", today=TODAY)
    assert ans.text and (ans.abstained or ans.citations)
    store.close()


def test_cli_second_writer_gets_one_line_error_readers_fine(held, monkeypatch):
    path, new = held
    patch_cli(monkeypatch, KeywordEmbedder(), lock_timeout=0.2)

    error = assert_one_line_error(run_cli("ingest", str(new), "--store", str(path)))
    assert "Another process is writing" in error
    assert_one_line_error(run_cli("delete", "gen-00001", "--store", str(path)), "Another process")

    listed = run_cli("list", "--json", "--store", str(path))
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 12
    found = run_cli("search", "kw5x", "--json", "--store", str(path))
    assert found.exit_code == 0 and json.loads(found.stdout)[0]["doc_id"] == "gen-00005"


def test_two_writer_processes_at_once_both_finish(tmp_path):
    path = tmp_path / "store"
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_corpus(a, 30, seed=1)
    write_corpus(b, 30, seed=2, start=1000)
    LocalStore(path).close()  # create it first, so the two children do not race to create it

    procs = [_child("ingest", str(path), str(c), "--batch", "16") for c in (a, b)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert len(json.loads(out)["added"]) == 30

    store = LocalStore(path)
    try:
        expected = expected_chunk_ids([a, b], KeywordEmbedder())
        assert store.chunk_ids() == store.vector_ids() == expected
        assert_store_consistent(store)
        assert self_retrieval(store, KeywordEmbedder())[0] >= 0.99
    finally:
        store.close()


def test_long_lived_process_finds_what_another_process_ingested(tmp_path):
    """The UI process stays up while `rag ingest` adds articles from another process."""
    path = tmp_path / "store"
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_corpus(a, 10, seed=1)
    write_corpus(b, 10, seed=2, start=1000)
    server = _child("serve", str(path))
    assert server.stdin is not None and server.stdout is not None

    def command(line: str) -> dict:
        server.stdin.write(line + "\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        reply = server.stdout.readline()  # type: ignore[union-attr]
        assert reply, server.stderr.read() if server.stderr else ""
        return json.loads(reply)

    try:
        assert json.loads(server.stdout.readline()) == {"ready": True}
        assert len(command(f"ingest {a}")["added"]) == 10
        other = _child("ingest", str(path), str(b))
        out, err = other.communicate(timeout=300)
        assert other.returncode == 0, err[-3000:]

        seen = command("verify")  # dense search in the long-lived process
        assert len(seen["docs"]) == 20
        assert seen["self_retrieval"] >= 0.99, f"{len(seen['misses'])} chunks not found"
    finally:
        server.communicate("quit\n", timeout=60)
