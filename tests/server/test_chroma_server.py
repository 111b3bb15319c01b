"""Server mode: a real `chroma run` shared by several clients and processes.

One server per module (started with the ``chroma`` CLI that ships with chromadb); each test
uses its own collection. Clients sync with ``sync_interval=0`` so every read sees the
server's latest state.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rag.assistant import Assistant
from rag.cli import cli
from rag.config import Settings, StoreSettings
from rag.errors import ConfigError, StoreUnavailableError
from rag.store import ServerStore, open_store
from rag.store.server import _article_metadata
from rag.types import Article, Chunk

pytestmark = pytest.mark.enable_socket

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEEDS = ROOT / "seeds"
DATA = ROOT / "tests" / "data" / "articles"
CHROMA = Path(sys.executable).with_name("chroma")
TODAY = date(2024, 12, 1)
BRIDGE_TITLE = "Harbour Bridge opens to traffic after six years of work"
BRIDGE_REPLY = "The Harbour Bridge opened to traffic on Tuesday morning [1]."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """`chroma run` in a subprocess, restartable on the same data directory and port."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [str(CHROMA), "run", "--path", str(self.path), "--port", str(self.port),
               "--host", "127.0.0.1"]  # fmt: skip
        with open(self.path.parent / "chroma.log", "ab") as log:  # the child keeps its copy
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("chroma run exited:\n" + (self.path.parent / "chroma.log").read_text())
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail("chroma run did not answer its heartbeat within 60 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    chroma = ChromaServer(tmp_path_factory.mktemp("chroma") / "data")
    chroma.start()
    yield chroma
    chroma.stop()


@pytest.fixture
def connect(server, embedder, fake_llm, tmp_path) -> Callable[..., Assistant]:
    """``connect(collection, *replies)``: a client with its own local cache directory."""
    count = 0

    def make(collection: str, *replies: str) -> Assistant:
        nonlocal count
        count += 1
        store = StoreSettings(url=server.url, path=tmp_path / f"client{count}",
                              collection=collection, sync_interval=0)  # fmt: skip
        return Assistant(Settings(store=store), llm=fake_llm(*replies), embedder=embedder)

    return make


def write_articles(folder: Path, prefix: str, n: int) -> list[Path]:
    """``n`` small dated articles, each with a made-up keyword only it contains."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        word = f"{prefix}{i}x"
        path = folder / f"{prefix}-{i}.md"
        path.write_text(
            f"# Council report {i} on the {word} project\n2024-06-{i + 1:02d}\n\n"
            f"The town council discussed the {word} project on Monday. Members voted "
            f"{i + 3} to 2 to fund a study of the {word} plan next spring.\n",
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def assert_consistent(store: ServerStore) -> None:
    """The BM25 side (local SQLite) holds exactly the chunks that Chroma holds."""
    ids = store.chunk_ids()
    assert ids and store.vector_ids() == ids
    assert store.count() == store.vector_count() == len(ids)
    assert sum(a.chunks for a in store.list_articles()) == len(ids)


def keyword_doc(store: ServerStore, word: str) -> str | None:
    """The doc_id of the best BM25 hit for ``word``."""
    hits = store.hits(store.bm25_search(word, 3))
    return hits[0].doc_id if hits else None


def test_ingest_search_ask_survive_a_restart(server, connect, tmp_path):
    extra = write_articles(tmp_path / "extra", "restart", 3)
    writer = connect("restart", BRIDGE_REPLY)
    report = writer.ingest([SEEDS, DATA, *extra])
    assert not report.failed and len(report.added) == 7
    assert isinstance(writer.store, ServerStore)

    (hit, *_) = writer.retrieve("When did the Harbour Bridge open?", today=TODAY)
    assert hit.title == BRIDGE_TITLE and hit.dense and hit.bm25
    ans = writer.ask("When did the Harbour Bridge open?", today=TODAY)
    assert not ans.abstained and ans.citations[0].title == BRIDGE_TITLE
    before = {a.doc_id: a.chunks for a in writer.list_articles()}
    assert writer.ingest([SEEDS, DATA]).unchanged  # nothing re-embedded

    server.stop()
    with pytest.raises(StoreUnavailableError, match=server.url):
        writer.list_articles()
    server.start()

    reader = connect("restart")  # a new machine: empty local cache
    assert {a.doc_id: a.chunks for a in reader.list_articles()} == before
    assert_consistent(reader.store)  # type: ignore[arg-type]
    (hit, *_) = reader.retrieve("When did the Harbour Bridge open?", today=TODAY)
    assert hit.title == BRIDGE_TITLE and hit.dense and hit.bm25
    stored = reader.store.article(hit.doc_id)
    assert stored is not None and stored.text[hit.start : hit.end] == hit.text
    assert keyword_doc(reader.store, "restart1x") == keyword_doc(writer.store, "restart1x")
    assert writer.retrieve("restart2x council", today=TODAY)  # the old client reconnects

    config = tmp_path / "server.toml"
    config.write_text(f'[store]\nurl = "{server.url}"\ncollection = "restart"\n')
    result = CliRunner().invoke(cli, ["list", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert {row["doc_id"] for row in json.loads(result.stdout)} == set(before)


def test_concurrent_writers_lose_nothing(server, connect, tmp_path):
    sets = [write_articles(tmp_path / name, name, 8) for name in ("alpha", "beta")]
    early = connect("race")  # synced before the race: must catch up incrementally
    assert early.store.count() == 0
    go = tmp_path / "go"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "ingest_child.py"),
                server.url,
                str(tmp_path / f"w{i}"),
                "race",
                str(tmp_path / f"ready{i}"),
                str(go),
                *map(str, paths),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for i, paths in enumerate(sets)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert all(c.poll() is None for c in children), [c.communicate() for c in children]
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.05)
    go.touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    added = [doc_id for r in results for doc_id in r["added"]]
    assert len(added) == len(set(added)) == 16
    # the two writers' write phases overlapped in time
    assert max(r["started"] for r in results) < min(r["ended"] for r in results)

    for store in (early.store, connect("race").store):
        assert {a.doc_id for a in store.list_articles()} == set(added)
        assert_consistent(store)  # type: ignore[arg-type]
        for name in ("alpha", "beta"):
            for i in (0, 7):
                assert keyword_doc(store, f"{name}{i}x") is not None, f"{name}{i}x"  # type: ignore[arg-type]


def test_delete_and_update_by_one_client_reach_another(connect, tmp_path):
    a, b = connect("shared"), connect("shared")
    a.ingest([DATA])
    bakery = keyword_doc(b.store, "sourdough")  # type: ignore[arg-type]
    assert bakery is not None

    assert a.delete(bakery) and not b.delete(bakery)
    assert keyword_doc(b.store, "sourdough") is None  # type: ignore[arg-type]
    assert bakery not in {x.doc_id for x in b.list_articles()}
    assert_consistent(b.store)  # type: ignore[arg-type]

    # An update with fewer chunks: the old version's extra chunks go from both sides.
    path = tmp_path / "ferry.md"
    long = " ".join(f"On day {i} the ferry crossed the strait {i + 2} times." for i in range(60))
    path.write_text(f"# Ferry timetable\n2024-04-01\n\n{long} The last trip met a zephyrgale.\n")
    a.ingest([path])
    (ferry,) = [x for x in b.list_articles() if x.title == "Ferry timetable"]
    assert ferry.chunks >= 3 and keyword_doc(b.store, "zephyrgale") == ferry.doc_id
    path.write_text("# Ferry timetable\n2024-04-02\n\nThe ferry now sails once a day.\n")
    assert a.ingest([path]).updated == [ferry.doc_id]
    (ferry,) = [x for x in b.list_articles() if x.title == "Ferry timetable"]
    assert ferry.chunks == 1 and ferry.published == date(2024, 4, 2)
    assert keyword_doc(b.store, "zephyrgale") is None  # type: ignore[arg-type]
    assert keyword_doc(b.store, "sails") == ferry.doc_id  # type: ignore[arg-type]
    assert_consistent(b.store)  # type: ignore[arg-type]
    assert_consistent(a.store)  # type: ignore[arg-type]


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailableError, match=url):
        open_store(StoreSettings(url=url), tmp_path)
    result = CliRunner().invoke(cli, ["list", "--store-url", url, "--store", str(tmp_path)])
    assert result.exit_code == 1 and f"Cannot use the Chroma server at {url}" in result.output
    monkeypatch.setenv("NEWSQA_STORE_URL", url)
    result = CliRunner().invoke(cli, ["search", "bridge", "--store", str(tmp_path)])
    assert result.exit_code == 1 and url in result.output


def test_bad_url_and_missing_token_are_config_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="http://host:port"):
        open_store(StoreSettings(url="localhost:8000"), tmp_path)
    monkeypatch.delenv("NEWSQA_TEST_CHROMA_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="NEWSQA_TEST_CHROMA_TOKEN"):
        open_store(StoreSettings(url="http://127.0.0.1:9", token_env="NEWSQA_TEST_CHROMA_TOKEN"),
                   tmp_path)  # fmt: skip


def test_half_written_articles_stay_invisible_until_complete(server, tmp_path):
    """A writer that stopped after the chunks (or mid-way) never shows a partial article."""

    def item(doc_id: str, n: int, digest: str) -> tuple[Article, str, list[Chunk]]:
        parts = [f"Paragraph {i} about {doc_id}word." for i in range(n)]
        text, chunks, pos = " ".join(parts), [], 0
        for i, part in enumerate(parts):
            chunks.append(Chunk(f"{doc_id}:{i:05d}", doc_id, i, part, pos, pos + len(part)))
            pos += len(part) + 1
        return Article(doc_id, doc_id.title(), text, f"{doc_id}.txt"), digest, chunks

    writer, reader = (ServerStore(server.url, tmp_path / name, "partial", sync_interval=0)
                      for name in ("w", "r"))  # fmt: skip
    with writer.writing():
        writer.put([item("whole", 2, "h1")], np.ones((2, 8)))
    ghost = item("ghost", 3, "h1")
    writer._chunks.upsert([ghost], np.ones((3, 8)))  # crashed before its article record
    assert {a.doc_id for a in reader.list_articles()} == {"whole"}
    assert keyword_doc(reader, "ghostword") is None
    assert {c for c, _ in reader.dense_search(np.ones(8), 10)} >= {"ghost:00000"}
    assert [h.doc_id for h in reader.hits(reader.dense_search(np.ones(8), 10))] == ["whole"] * 2

    # An update caught half-way (new article record, one of its three new chunks written)
    new = item("whole", 3, "h2")
    writer._chunks.upsert([(new[0], "h2", new[2][:1])], np.ones((1, 8)))
    writer._docs.upsert(ids=["whole"], embeddings=np.ones((1, 1)),
                        metadatas=[_article_metadata(new[0], "h2", 3)],
                        documents=[new[0].text])  # fmt: skip
    writer._bump_generation()
    assert [a.chunks for a in reader.list_articles()] == [2]  # still the complete old version
    with writer.writing():
        writer.put([ghost, new], np.ones((6, 8)))  # re-running the ingest converges
    assert {a.doc_id: a.chunks for a in reader.list_articles()} == {"whole": 3, "ghost": 3}
    assert keyword_doc(reader, "ghostword") == "ghost"
    assert_consistent(reader)
