"""Chunks <-> storage: vectors in Chroma, text, metadata and a BM25 index in SQLite.

The only module that imports ``chromadb``. Layout of a store directory::

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
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from filelock import FileLock, Timeout

from rag.errors import RagError, StoreLockedError
from rag.types import Article, ArticleInfo, Chunk, Hit

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Where

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, url TEXT, published TEXT, source TEXT,
    text TEXT NOT NULL, content_hash TEXT NOT NULL, chunks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY);
"""
_STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i if "
    "in into is it its me my no not of on or our she so than that the their them then there "
    "these they this to was we were what when where which who whom why will with would you "
    "your about after again also any because before being between both can could each few "
    "more most other over same should some such through under until very while week year".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class StoredArticle:
    """An article row: everything but its chunks."""

    doc_id: str
    title: str
    url: str | None
    published: date | None
    source: str
    text: str
    content_hash: str
    chunks: int


class Store:
    """A local store directory (Chroma + SQLite) for one collection.

    Example:
        >>> store = Store(Path("/tmp/store"))
        >>> store.count()
        0
    """

    def __init__(self, path: Path, collection: str = "articles", lock_timeout: float = 10.0):
        """Open (creating if needed) the store at ``path``."""
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as ex:
            raise RagError(f"cannot create the store at {path}: {ex.strerror or ex}") from ex
        self._lock = threading.RLock()
        self._file_lock = FileLock(str(self.path / "write.lock"), timeout=lock_timeout)
        self._collection_name = collection
        self._open_chroma()
        self._db = sqlite3.connect(self.path / "index.sqlite3", check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        self._data_version = self._sqlite_data_version()
        self._max_batch = self._client.get_max_batch_size()

    def _open_chroma(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self._client = chromadb.PersistentClient(
            path=str(self.path / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        # embedding_function=None: we always pass vectors, and Chroma's default embedder
        # would download a model.
        self._collection = self._client.get_or_create_collection(
            self._collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def _sqlite_data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _chroma(self) -> Collection:
        """The Chroma collection, reopened if another process wrote since we last looked.

        Chroma keeps its vector index in memory and does not re-read what another process
        wrote, so a long-lived process (the UI) would miss, in dense search, the articles
        that ``rag ingest`` added. SQLite's ``data_version`` changes exactly when another
        connection commits. Call with ``self._lock`` held, and use the result under it.
        """
        version = self._sqlite_data_version()
        if version != self._data_version:
            logger.info("another process wrote to %s: reopening Chroma", self.path)
            close = getattr(self._client, "close", None)
            if close:
                close()
            self._open_chroma()
            self._data_version = version
        return self._collection

    # ---- writing -------------------------------------------------------------------------

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

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None if it is not (completely) stored.

        An article left half-written by a crash (still in ``pending``) counts as not stored,
        so re-ingesting it writes it again instead of calling it unchanged.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT content_hash FROM articles WHERE doc_id=? "
                "AND doc_id NOT IN (SELECT doc_id FROM pending)",
                (doc_id,),
            ).fetchone()
        return row[0] if row else None

    def put(
        self,
        items: Sequence[tuple[Article, str, Sequence[Chunk]]],
        vectors: Sequence[Sequence[float]] | np.ndarray,
    ) -> None:
        """Replace each article (with its content hash and chunks) by the given version.

        ``vectors`` holds one vector per chunk, in the order of ``items``' chunks. Call
        inside ``writing()``.
        """
        doc_ids = [article.doc_id for article, _, _ in items]
        chunks = [chunk for _, _, article_chunks in items for chunk in article_chunks]
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        with self._lock:
            with self._db:
                self._db.executemany(
                    "INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", [(d,) for d in doc_ids]
                )
            self._delete_vectors(doc_ids)
            meta = {article.doc_id: article for article, _, _ in items}
            collection = self._chroma()
            for i in range(0, len(chunks), self._max_batch):
                batch = chunks[i : i + self._max_batch]
                collection.upsert(
                    ids=[c.chunk_id for c in batch],
                    embeddings=np.asarray(vectors[i : i + self._max_batch], dtype=np.float32),
                    documents=[c.text for c in batch],
                    metadatas=[_chunk_metadata(c, meta[c.doc_id]) for c in batch],
                )
            with self._db:
                self._delete_rows(doc_ids)
                self._db.executemany(
                    "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (a.doc_id, a.title, a.url, _iso(a.published), a.source, a.text, h, len(cs))
                        for a, h, cs in items
                    ],
                )
                self._db.executemany(
                    'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", text) '
                    "VALUES (?,?,?,?,?,?)",
                    [(c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text) for c in chunks],
                )
                self._db.executemany("DELETE FROM pending WHERE doc_id=?", [(d,) for d in doc_ids])

    def delete(self, doc_id: str) -> bool:
        """Remove an article and all its chunks; False if it was not stored."""
        with self.writing():
            if self.content_hash(doc_id) is None:
                return False
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", (doc_id,))
            self._delete_vectors([doc_id])
            with self._db:
                self._delete_rows([doc_id])
                self._db.execute("DELETE FROM pending WHERE doc_id=?", (doc_id,))
        return True

    def _delete_vectors(self, doc_ids: Sequence[str]) -> None:
        with self._lock:
            collection = self._chroma()
            for i in range(0, len(doc_ids), 100):
                where = cast("Where", {"doc_id": {"$in": list(doc_ids[i : i + 100])}})
                collection.delete(where=where)

    def _delete_rows(self, doc_ids: Sequence[str]) -> None:
        params = [(d,) for d in doc_ids]
        self._db.executemany("DELETE FROM chunks WHERE doc_id=?", params)
        self._db.executemany("DELETE FROM articles WHERE doc_id=?", params)

    def _repair(self) -> None:
        pending = [row[0] for row in self._db.execute("SELECT doc_id FROM pending")]
        if not pending:
            return
        logger.warning("repairing %d article(s) left half-written by a crash", len(pending))
        self._delete_vectors(pending)
        with self._db:
            self._delete_rows(pending)
            self._db.execute("DELETE FROM pending")

    # ---- reading -------------------------------------------------------------------------

    def count(self) -> int:
        """Number of stored chunks."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def vector_count(self) -> int:
        """Number of vectors in Chroma (equals ``count()`` unless a write was interrupted)."""
        with self._lock:
            return int(self._chroma().count())

    def list_articles(self) -> list[ArticleInfo]:
        """Every stored article, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, title, published, url, source, chunks FROM articles "
                "ORDER BY published DESC, title"
            ).fetchall()
        return [
            ArticleInfo(r["doc_id"], r["title"], _date(r["published"]), r["url"], r["source"],
                        r["chunks"])
            for r in rows
        ]  # fmt: skip

    def article(self, doc_id: str) -> StoredArticle | None:
        """One stored article with its full text, or None."""
        with self._lock:
            r = self._db.execute("SELECT * FROM articles WHERE doc_id=?", (doc_id,)).fetchone()
        if r is None:
            return None
        return StoredArticle(
            r["doc_id"], r["title"], r["url"], _date(r["published"]), r["source"] or "",
            r["text"], r["content_hash"], r["chunks"],
        )  # fmt: skip

    def dense_search(
        self, vector: Sequence[float], n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the ``n`` nearest chunks."""
        with self._lock:
            total = self.vector_count()
            if total == 0:
                return []
            result = self._chroma().query(
                query_embeddings=np.asarray([vector], dtype=np.float32), n_results=min(n, total),
                where=cast("Where | None", where), include=["distances"],
            )  # fmt: skip
        distances = result["distances"]
        assert distances is not None  # asked for with include=["distances"]
        return [(i, 1.0 - d) for i, d in zip(result["ids"][0], distances[0], strict=True)]

    def bm25_search(
        self, query: str, n: int, since: date | None = None, until: date | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score, higher is better) of the best ``n`` keyword matches."""
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        sql = (
            "SELECT c.chunk_id, -bm25(chunks_fts) AS score FROM chunks_fts "
            "JOIN chunks c ON c.id = chunks_fts.rowid "
        )
        params: list[Any] = [match]
        conditions = ["chunks_fts MATCH ?"]
        if since or until:
            sql += "JOIN articles a ON a.doc_id = c.doc_id "
            if since:
                conditions.append("(a.published IS NULL OR a.published >= ?)")
                params.append(since.isoformat())
            if until:
                conditions.append("(a.published IS NULL OR a.published <= ?)")
                params.append(until.isoformat())
        sql += "WHERE " + " AND ".join(conditions) + " ORDER BY bm25(chunks_fts) LIMIT ?"
        params.append(n)
        with self._lock:
            try:
                rows = self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as ex:  # a query FTS5 cannot parse
                logger.warning("BM25 query failed (%s): %r", ex, match)
                return []
        return [(r[0], float(r[1])) for r in rows]

    def hits(self, scored: Sequence[tuple[str, float]]) -> list[Hit]:
        """Hits for (chunk_id, score) pairs, in the same order; unknown ids are dropped."""
        if not scored:
            return []
        ids = [chunk_id for chunk_id, _ in scored]
        with self._lock:
            rows = self._db.execute(
                'SELECT c.chunk_id, c.doc_id, c.start, c."end", c.text, a.title, a.url, '
                "a.published, a.source FROM chunks c JOIN articles a ON a.doc_id = c.doc_id "
                f"WHERE c.chunk_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        by_id = {r["chunk_id"]: r for r in rows}
        return [
            Hit(
                chunk_id=chunk_id,
                doc_id=r["doc_id"],
                title=r["title"],
                text=r["text"],
                start=r["start"],
                end=r["end"],
                score=score,
                url=r["url"],
                published=_date(r["published"]),
                source=r["source"] or "",
            )  # fmt: skip
            for chunk_id, score in scored
            if (r := by_id.get(chunk_id)) is not None
        ]

    def chunk_ids(self) -> set[str]:
        """Every chunk id known to the SQLite side (for consistency checks)."""
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT chunk_id FROM chunks")}

    def vector_ids(self) -> set[str]:
        """Every chunk id known to Chroma (for consistency checks)."""
        ids: set[str] = set()
        with self._lock:
            offset, total = 0, self.vector_count()
            while offset < total:
                got = self._chroma().get(include=[], limit=self._max_batch, offset=offset)
                ids.update(got["ids"])
                offset += self._max_batch
        return ids

    def close(self) -> None:
        """Close the SQLite connection and the Chroma client."""
        with self._lock:
            self._db.close()
            close = getattr(self._client, "close", None)
            if close:
                close()


def query_terms(text: str) -> list[str]:
    """Lowercased keywords of a query, without stop words, in order, each once."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if (len(word) > 1 or word.isdigit()) and word not in _STOPWORDS:
            seen.setdefault(word.replace("_", ""), None)
    return [w for w in seen if w]


def date_where(since: date | None, until: date | None) -> dict[str, Any] | None:
    """A Chroma ``where`` filter on publication dates (undated articles always pass)."""
    clauses: list[dict[str, Any]] = []
    if since:
        clauses.append({"$or": [{"published_ord": {"$gte": _ord(since)}},
                                {"published_ord": {"$eq": 0}}]})  # fmt: skip
    if until:
        clauses.append({"published_ord": {"$lte": _ord(until)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _chunk_metadata(chunk: Chunk, article: Article) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "title": article.title,
        "published_ord": _ord(article.published),
        "start": chunk.start,
        "end": chunk.end,
    }


def _ord(day: date | None) -> int:
    return day.year * 10000 + day.month * 100 + day.day if day else 0


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def ensure_store(path: Path) -> None:
    """Raise a clear error when ``path`` exists but is not a directory."""
    if path.exists() and not path.is_dir():
        raise RagError(f"store path {path} exists and is not a directory")
