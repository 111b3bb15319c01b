"""A store in a local directory: the SQLite index, Chroma on disk, a write lock, a journal.

Layout of a store directory::

    chroma/          Chroma PersistentClient (cosine space); vectors + chunk metadata
    index.sqlite3    articles, chunks and an FTS5 full-text index (BM25), updated in place
    write.lock       held while a process writes, so two writers never interleave

Writes are journalled: an article is marked *pending* in SQLite before Chroma is touched and
unmarked in the same transaction that records its chunks, so a crash at any point is repaired
(the half-written article is removed from both sides) the next time the store is opened for
writing, and re-running the same ingest converges to exactly one copy of every chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rag.config import IndexSettings
from rag.errors import StoreLockedError
from rag.store.erase import scrub_chroma
from rag.store.index import Item, SearchIndex, make_dir
from rag.store.reads import IndexedReads
from rag.store.vectors import ChunkVectors, VectorArray, check_vectors, open_collection

logger = logging.getLogger(__name__)

_JOURNAL = "CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY)"


class LocalStore(IndexedReads):
    """A local store directory (Chroma + SQLite) for one collection.

    Example:
        >>> store = LocalStore(Path("/tmp/store"))
        >>> store.count()
        0
    """

    def __init__(
        self,
        path: Path,
        collection: str = "articles",
        lock_timeout: float = 10.0,
        *,
        index: IndexSettings | None = None,
    ) -> None:
        """Open (creating if needed) the store at ``path``."""
        self.path = make_dir(Path(path))
        self._collection_name = collection
        self._file_lock = FileLock(str(self.path / "write.lock"), timeout=lock_timeout)
        self._idx = SearchIndex(self.path / "index.sqlite3", index)
        self._lock = self._idx.lock
        with self._idx.db:
            self._idx.db.execute(_JOURNAL)
        self._chunks = self._open_chroma()
        self._data_version = self._idx.data_version()

    def _open_chroma(self) -> ChunkVectors:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._client = chromadb.PersistentClient(
            path=str(self.path / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        collection = open_collection(self._client, self._collection_name)
        return ChunkVectors(collection, self._client.get_max_batch_size())

    # ---- what reads use ---------------------------------------------------------------------

    def _index(self) -> SearchIndex:
        return self._idx

    @contextmanager
    def _vectors(self) -> Iterator[ChunkVectors]:
        """The chunk vectors, reopened first if another process wrote since we last looked.

        Chroma keeps its vector index in memory and does not re-read what another process
        wrote, so a long-lived process (the UI) would miss, in dense search, the articles
        that ``rag ingest`` added. SQLite's ``data_version`` changes exactly when another
        connection commits.
        """
        with self._lock:
            version = self._idx.data_version()
            if version != self._data_version:
                logger.info("another process wrote to %s: reopening Chroma", self.path)
                self._close_client()
                self._chunks = self._open_chroma()
                self._data_version = version
            yield self._chunks

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None if it is not (completely) stored.

        An article left half-written by a crash (still in the journal) counts as not
        stored, so re-ingesting it writes it again instead of calling it unchanged.
        """
        with self._lock:
            if self._idx.db.execute("SELECT 1 FROM pending WHERE doc_id=?", (doc_id,)).fetchone():
                return None
            return self._idx.content_hash(doc_id)

    # ---- writing ------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock (thread and process); repair half-written articles."""
        with self._lock:
            try:
                self._file_lock.acquire()
            except Timeout as ex:
                raise StoreLockedError(
                    f"Another process is writing to the store at {self.path}; "
                    "wait for it to finish (or use a Chroma server for many writers)."
                ) from ex
            try:
                self._repair()
                yield
            finally:
                self._file_lock.release()

    def put(self, items: Sequence[Item], vectors: VectorArray) -> None:
        """Replace each article (with its content hash and chunks) by the given version.

        ``vectors`` holds one vector per chunk, in the order of ``items``' chunks. Call
        inside ``writing()``.
        """
        doc_ids = [article.doc_id for article, _, _ in items]
        check_vectors(items, vectors)
        with self._lock:
            self._journal(doc_ids)
            with self._vectors() as chunks:
                chunks.delete_articles(doc_ids)
                chunks.upsert(items, vectors)
            with self._idx.db:
                self._idx.delete_rows(doc_ids)
                self._idx.insert_rows(items)
                self._unjournal(doc_ids)

    def delete(self, doc_id: str) -> bool:
        """Remove an article and all its chunks, and erase its text; False if not stored.

        Its text leaves every file of the store (``rag.store.erase``), and an upload an
        older version kept in ``uploads/`` goes when its last article does.
        """
        with self.writing():
            stored = self._idx.article(doc_id)
            if stored is None or self.content_hash(doc_id) is None:
                return False
            self._remove([doc_id])
            self._idx.compact()
            with self._vectors():  # no Chroma call in flight while its file is rewritten
                scrub_chroma(self.path / "chroma")
            self._drop_upload(stored.source)
        return True

    def _drop_upload(self, source: str) -> None:
        """Remove a kept upload (versions before uploads were removed after ingest)."""
        uploads = (self.path / "uploads").resolve()
        file = Path(source)
        if file.parent.resolve() != uploads or file.is_symlink() or not file.is_file():
            return
        if any(a.source == source for a in self._idx.list_articles()):
            return  # other articles of the same file remain
        file.unlink()

    def _repair(self) -> None:
        pending = [row[0] for row in self._idx.db.execute("SELECT doc_id FROM pending")]
        if pending:
            logger.warning("repairing %d article(s) left half-written by a crash", len(pending))
            self._remove(pending)

    def _remove(self, doc_ids: Sequence[str]) -> None:
        """Delete articles from both sides, journalled."""
        self._journal(doc_ids)
        with self._vectors() as chunks:
            chunks.delete_articles(doc_ids)
        with self._idx.db:
            self._idx.delete_rows(doc_ids)
            self._unjournal(doc_ids)

    def _journal(self, doc_ids: Sequence[str]) -> None:
        """Mark articles pending (committed) before Chroma is touched."""
        with self._idx.db:
            self._idx.db.executemany(
                "INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", [(d,) for d in doc_ids]
            )

    def _unjournal(self, doc_ids: Sequence[str]) -> None:
        """Unmark articles, inside the transaction that records their rows."""
        self._idx.db.executemany("DELETE FROM pending WHERE doc_id=?", [(d,) for d in doc_ids])

    def close(self) -> None:
        """Close the SQLite connection and the Chroma client."""
        with self._lock:
            self._idx.close()
            self._close_client()

    def _close_client(self) -> None:
        close = getattr(self._client, "close", None)
        if close:
            close()
