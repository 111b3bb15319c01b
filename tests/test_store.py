"""The store: Chroma and SQLite/FTS5 stay in step through re-ingest, updates, deletes, crashes."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from rag import text
from rag.config import IndexSettings, Settings, StoreSettings
from rag.errors import RagError, StoreLockedError
from rag.store import (
    LocalStore,
    SearchIndex,
    ServerStore,
    Store,
    date_where,
    open_store,
    query_terms,
)
from rag.store.reads import IndexedReads
from rag.types import Article, Chunk

DATA = Path(__file__).parent / "data" / "articles"
DIM = 8


def make_item(doc_id: str, texts: list[str], published: date | None = None):
    text = " ".join(texts)
    art = Article(doc_id, f"Title of {doc_id}", text, f"{doc_id}.txt", published=published)
    chunks, pos = [], 0
    for i, t in enumerate(texts):
        start = text.index(t, pos)
        chunks.append(Chunk(f"{doc_id}:{i:05d}", doc_id, i, t, start, start + len(t)))
        pos = start + len(t)
    return art, f"hash-{doc_id}-{len(texts)}", chunks


def vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def put(store: Store, *items) -> None:
    n = sum(len(chunks) for _, _, chunks in items)
    with store.writing():
        store.put(list(items), vectors(n))


def assert_consistent(store: Store) -> None:
    ids = store.chunk_ids()
    assert store.vector_ids() == ids
    assert store.count() == store.vector_count() == len(ids)
    assert sum(a.chunks for a in store.list_articles()) == len(ids)


@pytest.fixture
def store(tmp_path) -> Store:
    s = LocalStore(tmp_path / "store")
    yield s
    s.close()


# ---- put / delete ---------------------------------------------------------------------------


def test_put_stores_both_sides(store):
    put(store, make_item("a", ["Alpha one.", "Alpha two."]), make_item("b", ["Beta one."]))
    assert store.chunk_ids() == {"a:00000", "a:00001", "b:00000"}
    assert_consistent(store)
    assert store.content_hash("a") == "hash-a-2"
    assert store.content_hash("zzz") is None
    stored = store.article("a")
    assert stored is not None and stored.text == "Alpha one. Alpha two." and stored.chunks == 2


def test_put_replaces_an_article_and_drops_its_old_chunks(store):
    put(store, make_item("a", ["Old one.", "Old two.", "Old three."]), make_item("b", ["Keep."]))
    put(store, make_item("a", ["New only."]))
    assert store.chunk_ids() == {"a:00000", "b:00000"}
    assert_consistent(store)
    assert [h.text for h in store.hits([("a:00000", 1.0)])] == ["New only."]
    assert store.bm25_search("old", 10) == []
    assert [cid for cid, _ in store.bm25_search("new", 10)] == ["a:00000"]


def test_put_rejects_mismatched_vectors(store):
    with store.writing(), pytest.raises(ValueError, match="2 chunks but 1 vectors"):
        store.put([make_item("a", ["One.", "Two."])], vectors(1))


def test_put_splits_batches_above_the_chroma_limit(store, monkeypatch):
    chunks = store._chunks
    assert chunks.max_batch == store._client.get_max_batch_size()
    monkeypatch.setattr(chunks, "max_batch", 2)
    sizes = []
    upsert = chunks.collection.upsert

    def spy(**kwargs):
        sizes.append(len(kwargs["ids"]))
        return upsert(**kwargs)

    monkeypatch.setattr(chunks.collection, "upsert", spy)
    put(store, make_item("a", [f"Sentence {i}." for i in range(5)]), make_item("b", ["Last."]))
    assert sizes == [2, 2, 2]
    assert len(store.vector_ids()) == 6  # vector_ids pages by max_batch too
    assert_consistent(store)


def test_delete_removes_vectors_and_keyword_index(store):
    put(store, make_item("a", ["Alpha harbour."]), make_item("b", ["Beta harbour."]))
    assert store.delete("a") is True
    assert store.chunk_ids() == store.vector_ids() == {"b:00000"}
    assert [cid for cid, _ in store.bm25_search("harbour", 10)] == ["b:00000"]
    assert store.article("a") is None
    assert [a.doc_id for a in store.list_articles()] == ["b"]
    assert store.delete("a") is False
    assert_consistent(store)


# ---- crashes and locks ------------------------------------------------------------------------


def test_pending_article_is_repaired_on_reopen(tmp_path):
    path = tmp_path / "store"
    store = LocalStore(path)
    put(store, make_item("a", ["Alpha."]), make_item("b", ["Beta."]))
    with store._idx.db:  # as if the process died in the middle of writing "a"
        store._idx.db.execute("INSERT INTO pending(doc_id) VALUES ('a')")
    store.close()

    reopened = LocalStore(path)
    assert reopened.content_hash("a") is None  # half-written counts as not stored
    with reopened.writing():
        pass
    assert reopened.chunk_ids() == reopened.vector_ids() == {"b:00000"}
    assert reopened._idx.db.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
    assert_consistent(reopened)
    reopened.close()


def test_crash_between_chroma_and_sqlite_is_repaired(tmp_path, monkeypatch):
    path = tmp_path / "store"
    store = LocalStore(path)
    put(store, make_item("a", ["Old one.", "Old two."]), make_item("b", ["Beta."]))

    def crash(doc_ids):
        raise RuntimeError("power cut")

    monkeypatch.setattr(store._idx, "delete_rows", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        put(store, make_item("a", ["New one.", "New two.", "New three."]))
    assert store.vector_ids() != store.chunk_ids()  # Chroma has the new "a", SQLite the old
    store.close()

    reopened = LocalStore(path)
    with reopened.writing():
        pass
    assert reopened.chunk_ids() == {"b:00000"}
    assert_consistent(reopened)
    put(reopened, make_item("a", ["New one.", "New two.", "New three."]))
    assert len(reopened.chunk_ids()) == 4
    assert_consistent(reopened)
    reopened.close()


def test_reingesting_a_half_written_article_writes_it_again(make_assistant, tmp_path):
    assistant = make_assistant()
    store = assistant.store
    doc_id = next(a.doc_id for a in store.list_articles() if a.source.endswith("bakery.txt"))
    with store._idx.db:
        store._idx.db.execute("INSERT INTO pending(doc_id) VALUES (?)", (doc_id,))

    report = assistant.ingest([DATA / "bakery.txt"])

    assert report.added == [doc_id] and report.unchanged == []
    assert doc_id in {a.doc_id for a in store.list_articles()}
    assert_consistent(store)


def test_second_writer_gets_a_clear_error(tmp_path):
    path = tmp_path / "store"
    first, second = LocalStore(path), LocalStore(path, lock_timeout=0)
    with first.writing():
        with pytest.raises(StoreLockedError, match="Another process is writing"):
            with second.writing():
                pass
    with second.writing():  # released
        pass


_HOLD_LOCK = textwrap.dedent(
    """
    import sys
    from rag.store import LocalStore
    store = LocalStore(sys.argv[1])
    with store.writing():
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


def test_writer_in_another_process_blocks_writing(tmp_path):
    path = tmp_path / "store"
    LocalStore(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        store = LocalStore(path, lock_timeout=0)
        with pytest.raises(StoreLockedError):
            with store.writing():
                pass
        proc.communicate("\n", timeout=30)
        with store.writing():
            pass
    finally:
        proc.kill()
        proc.wait()


def test_store_path_that_cannot_be_created(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(RagError, match="cannot create the store"):
        LocalStore(tmp_path / "a-file" / "store")


# ---- reading ------------------------------------------------------------------------------------


def test_dense_search_on_empty_store(store):
    assert store.dense_search(vectors(1)[0], 5) == []
    assert store.bm25_search("anything", 5) == []
    assert store.hits([("missing:00000", 1.0)]) == []


def test_dense_search_finds_the_same_vector(store):
    items = [make_item(d, [f"Text {d}."]) for d in "abc"]
    vecs = vectors(3, seed=4)
    with store.writing():
        store.put(items, vecs)
    (best, score), *_ = store.dense_search(vecs[1], 3)
    assert best == "b:00000"
    assert score == pytest.approx(1.0, abs=1e-4)


def test_bm25_is_keyword_ranked_and_survives_fts_syntax(store):
    put(
        store,
        make_item("a", ["The harbour bridge opened to traffic."]),
        make_item("b", ["The bakery sells sourdough bread."]),
    )
    assert store.bm25_search("bridge", 5)[0][0] == "a:00000"
    for query in ['"bread" AND (sourdough*', "NEAR(bread, 2) OR -x", "sourdough: bread^"]:
        assert store.bm25_search(query, 5)[0][0] == "b:00000"
    assert store.bm25_search("the of and", 5) == []  # only stop words


def test_term_rows_counts_the_chunks_holding_each_term(store):
    put(
        store,
        make_item("a", ["Sandbags reached Ellis Quay.", "Okonjo spoke in Marlow."]),
        make_item("b", ["Okonjo visited Dunmore.", 'The mayor said "no".']),
    )
    assert store.term_rows(["okonjo", "quay", "zanzibar", 'no" OR "x']) == {
        "okonjo": 2, "quay": 1, "zanzibar": 0, 'no" OR "x': 0,
    }  # fmt: skip
    put(store, make_item("c", [f"Okonjo item {i}." for i in range(4)]))  # the store grew
    assert store.term_rows(["okonjo"]) == {"okonjo": 6}


def test_date_filters(store):
    put(
        store,
        make_item("old", ["Harbour news old."], published=date(2024, 1, 1)),
        make_item("new", ["Harbour news new."], published=date(2024, 6, 1)),
        make_item("undated", ["Harbour news undated."]),
    )
    until = {cid for cid, _ in store.bm25_search("harbour", 10, until=date(2024, 3, 1))}
    assert until == {"old:00000", "undated:00000"}
    since = {cid for cid, _ in store.bm25_search("harbour", 10, since=date(2024, 3, 1))}
    assert since == {"new:00000", "undated:00000"}
    where = date_where(None, date(2024, 3, 1))
    dense = {cid for cid, _ in store.dense_search(vectors(1)[0], 10, where=where)}
    assert dense == {"old:00000", "undated:00000"}


def test_list_articles_newest_first(store):
    put(
        store,
        make_item("old", ["Old."], published=date(2020, 1, 1)),
        make_item("new", ["New."], published=date(2024, 1, 1)),
    )
    assert [a.doc_id for a in store.list_articles()] == ["new", "old"]
    assert store.list_articles()[0].published == date(2024, 1, 1)


def test_query_terms():
    assert query_terms("Why did Ukraine want the Patriot systems? Ukraine!") == [
        "ukraine", "want", "patriot", "systems",
    ]  # fmt: skip
    assert query_terms("What is 5 of the a?") == ["5"]
    assert query_terms is text.query_terms  # the rule lives in rag.text, re-exported here


# ---- through ingest ---------------------------------------------------------------------------


def test_reingest_is_idempotent(make_assistant):
    assistant = make_assistant()
    store = assistant.store
    ids = store.chunk_ids()

    report = assistant.ingest([DATA])

    assert report.added == report.updated == report.failed == []
    assert len(report.unchanged) == 3 and report.chunks == 0
    assert store.chunk_ids() == ids
    assert_consistent(store)


def test_changed_article_replaces_its_chunks(make_assistant, tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(DATA, folder)
    story = folder / "bakery.txt"
    long_body = "\n\n".join(
        f"Paragraph {i}: the Okafor bakery baked {i * 10} extra sourdough loaves for the fair."
        for i in range(60)
    )
    story.write_text("Family bakery on Mill Street wins national bread award\n2024-05-02\n\n"
                     + long_body)  # fmt: skip
    assistant = make_assistant(ingest=False)
    first = assistant.ingest([folder])
    store = assistant.store
    doc_id = next(a.doc_id for a in store.list_articles() if a.source == str(story))
    old_chunks = {c for c in store.chunk_ids() if c.startswith(doc_id)}
    assert len(old_chunks) > 3

    story.write_text("Family bakery on Mill Street wins national bread award\n2024-05-02\n\n"
                     "The bakery closed for a week after the award.")  # fmt: skip
    second = assistant.ingest([folder])

    assert second.updated == [doc_id] and len(second.unchanged) == 2 and second.chunks == 1
    new_chunks = {c for c in store.chunk_ids() if c.startswith(doc_id)}
    assert new_chunks == {f"{doc_id}:00000"}
    assert store.count() == first.chunks - len(old_chunks) + 1
    texts = " ".join(h.text for h in store.hits([(c, 0.0) for c in store.chunk_ids()]))
    assert "closed for a week" in texts and "extra sourdough loaves" not in texts
    chroma_docs = store._chunks.collection.get(where={"doc_id": doc_id}, include=["documents"])
    assert chroma_docs["documents"] == ["The bakery closed for a week after the award."]
    assert store.bm25_search("loaves", 10) == []
    assert_consistent(store)


def test_delete_through_the_assistant(make_assistant):
    assistant = make_assistant()
    doc_id = next(a.doc_id for a in assistant.list_articles() if a.source.endswith("bridge.md"))
    assert assistant.delete(doc_id) is True
    store = assistant.store
    assert not any(c.startswith(doc_id) for c in store.chunk_ids() | store.vector_ids())
    assert store.bm25_search("harbour bridge cable", 10) == []
    assert assistant.delete(doc_id) is False
    assert_consistent(store)


# ---- one protocol, composition -----------------------------------------------------------------

READS = {  # every public read of a store, with arguments to call it
    "content_hash": ("a",),
    "count": (),
    "list_articles": (),
    "article": ("a",),
    "bm25_search": ("harbour", 5),
    "term_rows": (["harbour"],),
    "hits": ([("a:00000", 1.0)],),
    "published": (["a:00000"],),
    "window_ids": (date(2024, 1, 1), date(2024, 2, 1)),
    "chunk_ids": (),
    "dense_search": ([1.0] * DIM, 3),
    "vector_count": (),
    "vector_ids": (),
}


def _public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"}


def test_both_stores_implement_the_protocol_and_reads_are_written_once():
    protocol = {name for name in vars(Store) if name[0] != "_" and callable(vars(Store)[name])}
    assert protocol <= _public(LocalStore) and protocol <= _public(ServerStore)
    assert set(READS) == _public(IndexedReads)  # a new read must be added to READS
    # The server store overrides no read: each one reaches the index through its _index().
    assert not set(READS) & set(vars(ServerStore))


def test_every_read_of_a_server_store_syncs_first(tmp_path, monkeypatch):
    """No server needed: the store's index is real, its vectors and sync are stand-ins."""

    class Vectors:
        def query(self, *args):
            return []

        def count(self):
            return 0

        def ids(self):
            return set()

    server = ServerStore.__new__(ServerStore)  # skip connecting
    server._idx = SearchIndex(tmp_path / "index.sqlite3")
    server._lock = server._idx.lock
    server._chunks = Vectors()  # type: ignore[assignment]
    synced, vectors = [], []
    monkeypatch.setattr(server, "sync", lambda force=False: synced.append(force))

    @contextmanager
    def used_vectors():
        vectors.append(1)
        yield server._chunks

    monkeypatch.setattr(server, "_vectors", used_vectors)
    for name, args in READS.items():
        before = len(synced) + len(vectors)
        getattr(server, name)(*args)
        assert len(synced) + len(vectors) == before + 1, name
    assert len(synced) == len(READS) - 3  # all but the three vector reads
    server._idx.close()


def test_index_settings_come_from_the_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[store.index]\nbm25_row_budget = 7\nwindow_cache = 2\n")
    settings = Settings.from_toml(config, store={"path": tmp_path / "s"})
    assert settings.store.index == IndexSettings(bm25_row_budget=7, window_cache=2)
    store = open_store(settings.store, settings.store_path)
    assert isinstance(store, LocalStore) and store._idx.settings.bm25_row_budget == 7
    store.close()
    assert StoreSettings().index.bm25_row_budget == 1000


def test_window_cache_keeps_the_newest_windows(tmp_path):
    index = SearchIndex(tmp_path / "index.sqlite3", IndexSettings(window_cache=2))
    days = [(date(2024, 1, d), date(2024, 1, d + 1)) for d in (1, 2, 3)]
    first = index.window_ids(*days[0])
    for window in days[1:]:
        index.window_ids(*window)
    assert list(index._windows) == days[1:]
    assert index.window_ids(*days[0]) == first == ()
    index.close()
