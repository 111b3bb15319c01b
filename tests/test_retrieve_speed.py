"""Issue 6: the fast retrieval paths return what the date-filtered queries return."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from test_store import make_item, put, vectors

from rag import retrieve
from rag.config import IndexSettings, RetrieveSettings
from rag.retrieve import Filters
from rag.store import LocalStore, SearchIndex, Store, date_where


@pytest.fixture
def store(tmp_path) -> Store:
    s = LocalStore(tmp_path / "store")
    put(
        s,
        make_item("old", ["Harbour bridge old.", "Ferry old."], published=date(2024, 1, 1)),
        make_item("recent", ["Harbour bridge recent."], published=date(2024, 5, 28)),
        make_item("future", ["Harbour bridge future."], published=date(2024, 7, 1)),
        make_item("undated", ["Harbour undated."]),
    )
    yield s
    s.close()


def test_window_ids_and_published(store):
    window = store.window_ids(date(2024, 5, 20), date(2024, 6, 1))
    assert sorted(window) == ["recent:00000", "undated:00000"]
    assert store.published(["old:00001", "undated:00000", "nope"]) == {
        "old:00001": date(2024, 1, 1), "undated:00000": None,
    }  # fmt: skip


def test_dense_search_by_ids_matches_the_date_filter(store):
    vector = vectors(1, seed=3)[0]
    since, until = date(2024, 5, 20), date(2024, 6, 1)
    by_ids = store.dense_search(vector, 10, ids=store.window_ids(since, until))
    by_where = store.dense_search(vector, 10, where=date_where(since, until))
    assert [c for c, _ in by_ids] == [c for c, _ in by_where]
    assert store.dense_search(vector, 10, ids=[]) == []


def test_common_terms_are_left_out_on_a_large_store(store, tmp_path):
    file = tmp_path / "store" / "index.sqlite3"
    tight = SearchIndex(file, IndexSettings(bm25_row_budget=2))  # the store "is large"
    assert tight._selective(["harbour", "ferry"]) == ["ferry"]  # harbour: in 4 rows
    assert tight._selective(["harbour"]) == ["harbour"]  # the only term is always kept
    assert [c for c, _ in tight.bm25_search("harbour ferry", 5)] == ["old:00001"]
    roomy = SearchIndex(file, IndexSettings(bm25_row_budget=4000))
    assert roomy._selective(["harbour", "ferry"]) == ["harbour", "ferry"]
    assert store._idx.settings.bm25_row_budget == 1000  # the default
    tight.close()
    roomy.close()


class _Vector:
    """An embedder whose every question is the same vector."""

    def encode(self, texts):  # type: ignore[no-untyped-def]
        return np.stack([vectors(1, seed=3)[0]] * len(texts))


@pytest.mark.parametrize("overfetch", [1, 4])  # 1: too few pass, the filtered query runs
def test_search_never_returns_the_future(store, monkeypatch, overfetch):
    settings = RetrieveSettings(candidates=2, k=6, recent_days=10, overfetch=overfetch)
    hits = retrieve.search(store, _Vector(), "harbour bridge", settings,  # type: ignore[arg-type]
                           Filters(until=date(2024, 6, 1)))  # fmt: skip
    found = {h.doc_id for h in hits}
    assert "future" not in found
    assert {"recent", "old"} <= found


def test_window_ids_are_cached_until_the_store_changes(store):
    window = (date(2024, 5, 20), date(2024, 6, 1))
    assert store.window_ids(*window) is store.window_ids(*window)
    put(store, make_item("fresh", ["Harbour fresh."], published=date(2024, 5, 30)))
    assert "fresh:00000" in store.window_ids(*window)
    store.delete("fresh")
    assert "fresh:00000" not in store.window_ids(*window)
