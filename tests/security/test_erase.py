"""Issue 8, item 6: a deleted article's text leaves every file of the store.

The probe deleted an article through ``DELETE /api/articles/{id}`` and still found its text
in ``store/uploads/<file>`` and in Chroma's log (``embeddings_queue`` in chroma.sqlite3).
Here the bytes of every file under the store folder are searched for words that only the
deleted article holds (its title too): after a delete, none is left, and the store still
works, in the same process and reopened. What Chroma keeps (ids and vectors, no text) is
described in ``rag/store/erase.py`` and the README.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from relkit import KeywordEmbedder, assert_store_consistent, write_corpus

from rag.assistant import Assistant
from rag.config import Settings, StoreSettings
from ui.access import Access
from ui.api import create_api
from ui.policy import Policy

SECRET_WORDS = ["Zebracanary", "quokkasecret", "Vortelhaven"]
SECRET = (
    "# Zebracanary report leaks\n2024-05-02\n\n"
    "The quokkasecret memo said the Vortelhaven mill burned on Friday night. "
    "Firefighters from Vortelhaven fought the quokkasecret blaze for nine hours.\n"
)
KEEP = "# Ferry resumes\n2024-05-01\n\nThe island ferry resumed on Monday after repairs.\n"


def _assistant(root: Path) -> Assistant:
    settings = Settings(store=StoreSettings(path=root / "store"))
    return Assistant(settings, embedder=KeywordEmbedder())  # type: ignore[arg-type]


def _leaks(store: Path, words: list[str]) -> dict[str, list[str]]:
    """Each word (any case) -> the files under ``store`` whose bytes hold it."""
    found: dict[str, list[str]] = {}
    for file in sorted(p for p in store.rglob("*") if p.is_file()):
        data = file.read_bytes().lower()
        for word in words:
            if word.lower().encode() in data:
                found.setdefault(word, []).append(str(file.relative_to(store)))
    return found


def test_rest_delete_erases_the_text_from_every_file(tmp_path):
    a = _assistant(tmp_path)
    api = TestClient(Policy(create_api(a), access=Access(), settings=a.settings),
                     base_url="http://127.0.0.1")  # fmt: skip
    files = [("files", ("secret.md", SECRET)), ("files", ("keep.md", KEEP))]
    report = api.post("/api/ingest", files=files).json()
    assert len(report["added"]) == 2, report
    store = a.settings.store_path
    assert set(_leaks(store, SECRET_WORDS)) == set(SECRET_WORDS)  # the search finds them

    secret = next(x.doc_id for x in a.list_articles() if "Zebracanary" in x.title)
    assert api.delete(f"/api/articles/{secret}").status_code == 200

    assert _leaks(store, SECRET_WORDS) == {}
    assert not any((store / "uploads").iterdir())
    # The store goes on working, in this process ...
    assert_store_consistent(a.store)
    assert a.retrieve("island ferry", k=1)[0].title == "Ferry resumes"
    assert a.ingest([tmp_path / "keep2.md"]).failed  # (no such file: reported, no crash)
    # ... and reopened (Chroma replays its log into the vector index).
    a.store.close()
    again = _assistant(tmp_path)
    assert_store_consistent(again.store)
    assert [x.title for x in again.list_articles()] == ["Ferry resumes"]
    assert again.retrieve("island ferry", k=1)[0].title == "Ferry resumes"


def test_an_updated_then_deleted_article_leaves_neither_version(tmp_path):
    a = _assistant(tmp_path)
    path = tmp_path / "story.md"
    path.write_text(SECRET)
    (tmp_path / "keep.md").write_text(KEEP)
    a.ingest([path, tmp_path / "keep.md"])
    path.write_text(SECRET.replace("nine hours", "eleven hours") + "Glimmerwick added.\n")
    assert a.ingest([path]).updated
    (doc_id,) = [x.doc_id for x in a.list_articles() if "Zebracanary" in x.title]
    assert a.delete(doc_id)
    assert _leaks(a.settings.store_path, [*SECRET_WORDS, "Glimmerwick"]) == {}
    assert_store_consistent(a.store)


def test_delete_erases_after_chroma_has_flushed_its_vector_index(tmp_path):
    """Past 1,000 writes Chroma flushes the vector index and purges its log itself."""
    a = _assistant(tmp_path)
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 300)
    secret = tmp_path / "secret.md"
    secret.write_text(SECRET)
    a.ingest([secret, corpus])
    assert a.store.count() > 1000
    (doc_id,) = [x.doc_id for x in a.list_articles() if "Zebracanary" in x.title]
    assert a.delete(doc_id)
    assert a.delete("gen-00007")
    assert _leaks(a.settings.store_path, [*SECRET_WORDS, "kw7x"]) == {}
    assert_store_consistent(a.store)
    a.store.close()
    again = _assistant(tmp_path)
    assert_store_consistent(again.store)
    assert again.retrieve("kw8x code word", k=1)[0].doc_id == "gen-00008"


def test_an_upload_kept_by_an_older_version_goes_with_its_last_article(tmp_path):
    a = _assistant(tmp_path)
    uploads = a.settings.store_path / "uploads"
    uploads.mkdir(parents=True)
    single = uploads / "secret.md"
    single.write_text(SECRET)
    records = uploads / "api-records.jsonl"
    lines = [{"doc_id": "r1", "title": "One", "text": "Alpha report one."},
             {"doc_id": "r2", "title": "Two", "text": "Beta report two."}]  # fmt: skip
    records.write_text("\n".join(json.dumps(r) for r in lines))
    a.ingest([single, records])

    (doc_id,) = [x.doc_id for x in a.list_articles() if "Zebracanary" in x.title]
    assert a.delete(doc_id)
    assert not single.exists() and _leaks(a.settings.store_path, SECRET_WORDS) == {}
    assert a.delete("r1")
    assert records.exists()  # r2 still comes from it (the README says so)
    assert a.delete("r2")
    assert not records.exists()


@pytest.mark.parametrize("kind", ["symlink", "elsewhere"])
def test_only_the_stores_own_uploads_are_removed(tmp_path, kind):
    a = _assistant(tmp_path)
    outside = tmp_path / "mine.md"
    outside.write_text(SECRET)
    if kind == "symlink":
        uploads = a.settings.store_path / "uploads"
        uploads.mkdir(parents=True)
        (uploads / "link.md").symlink_to(outside)
        a.ingest([uploads / "link.md"])
    else:
        a.ingest([outside])
    (doc_id,) = [x.doc_id for x in a.list_articles()]
    assert a.delete(doc_id)
    assert outside.read_text() == SECRET  # a file of the user's, not the store's
