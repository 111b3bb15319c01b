"""Chunks <-> storage: vectors in Chroma, text, metadata and a BM25 index in SQLite.

The only module that imports ``chromadb``. Layout of a store directory::

    chroma/          Chroma PersistentClient (cosine space); vectors + chunk metadata
    index.sqlite3    articles, chunks and an FTS5 full-text index (BM25), updated in place
    write.lock       held while a process writes, so two writers never interleave

Writes are journalled: an article is marked *pending* in SQLite before Chroma is touched and
unmarked in the same transaction that records its chunks, so a crash at any point is repaired
(the half-written article is removed from both sides) the next time the store is opened for
writing, and re-running the same ingest converges to exactly one copy of every chunk.

With ``store.url`` the collection lives on a Chroma server instead (``ServerStore``): the
server is the source of truth and the SQLite index becomes a cache of it, see ``ServerStore``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import numpy as np
from filelock import FileLock, Timeout

from rag.errors import ConfigError, RagError, StoreLockedError, StoreUnavailableError
from rag.types import Article, ArticleInfo, Chunk, Hit

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Where

    from rag.config import StoreSettings

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
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
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
# BM25 queries leave out their most common terms so that about this many rows match at
# most: FTS5's cost is proportional to the rows it scores (see ``Store._selective``).
BM25_ROW_BUDGET = 1000
_WINDOWS_CACHED = 16  # date windows whose chunk ids Store.window_ids keeps


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
        self._term_rows: dict[str, tuple[int, int]] = {}  # term -> (rows, chunks then)
        self._windows: dict[tuple[date, date], tuple[str, ...]] = {}  # see window_ids
        self._windows_at: tuple[int, int] = (-1, -1)
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
        _check_vectors(items, vectors)
        with self._lock:
            with self._db:
                self._db.executemany(
                    "INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", [(d,) for d in doc_ids]
                )
            self._delete_vectors(doc_ids)
            self._upsert_chunks(items, vectors)
            with self._db:
                self._delete_rows(doc_ids)
                self._insert_rows(items)
                self._db.executemany("DELETE FROM pending WHERE doc_id=?", [(d,) for d in doc_ids])

    def _upsert_chunks(
        self,
        items: Sequence[tuple[Article, str, Sequence[Chunk]]],
        vectors: Sequence[Sequence[float]] | np.ndarray,
    ) -> None:
        """Write the chunks' vectors, texts and metadata to Chroma (ids are deterministic)."""
        chunks = [(chunk, article, digest) for article, digest, cs in items for chunk in cs]
        collection = self._chroma()
        for i in range(0, len(chunks), self._max_batch):
            batch = chunks[i : i + self._max_batch]
            collection.upsert(
                ids=[c.chunk_id for c, _, _ in batch],
                embeddings=np.asarray(vectors[i : i + self._max_batch], dtype=np.float32),
                documents=[c.text for c, _, _ in batch],
                metadatas=[_chunk_metadata(c, a, h) for c, a, h in batch],
            )

    def _insert_rows(self, items: Sequence[tuple[Article, str, Sequence[Chunk]]]) -> None:
        """Insert articles and chunks into SQLite (FTS5 follows by trigger); in a transaction."""
        self._db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?)",
            [
                (a.doc_id, a.title, a.url, _iso(a.published), a.source, a.text, h, len(cs))
                for a, h, cs in items
            ],
        )
        self._db.executemany(
            'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", text) VALUES (?,?,?,?,?,?)',
            [(c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text) for _, _, cs in items
             for c in cs],
        )  # fmt: skip

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
        self,
        vector: Sequence[float],
        n: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) of the ``n`` nearest chunks (among ``ids`` if given).

        Restricting by ``ids`` (``window_ids``) is how a short date window is searched:
        Chroma evaluates a ``where`` filter on dates by scanning its metadata, which costs
        ~30x the query on 100k chunks (bench/results/retrieval.json).
        """
        if ids is not None and not ids:
            return []
        with self._lock:
            total = self.vector_count() if ids is None else len(ids)
            if total == 0:
                return []
            result = self._chroma().query(
                query_embeddings=np.asarray([vector], dtype=np.float32), n_results=min(n, total),
                where=cast("Where | None", where), ids=list(ids) if ids is not None else None,
                include=["distances"],
            )  # fmt: skip
        distances = result["distances"]
        assert distances is not None  # asked for with include=["distances"]
        return [(i, 1.0 - d) for i, d in zip(result["ids"][0], distances[0], strict=True)]

    def bm25_search(
        self, query: str, n: int, since: date | None = None, until: date | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score, higher is better) of the best ``n`` keyword matches.

        On a large store the most common terms are left out (see ``_selective``). Without
        dates the ranking runs on the FTS5 table alone and only the ``n`` best are joined.
        """
        terms = self._selective(query_terms(query))
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        params: list[Any] = [match]
        if since or until:
            sql = (
                "SELECT c.chunk_id, -bm25(chunks_fts) AS score FROM chunks_fts "
                "JOIN chunks c ON c.id = chunks_fts.rowid "
                "JOIN articles a ON a.doc_id = c.doc_id WHERE chunks_fts MATCH ? "
            )
            if since:
                sql += "AND (a.published IS NULL OR a.published >= ?) "
                params.append(since.isoformat())
            if until:
                sql += "AND (a.published IS NULL OR a.published <= ?) "
                params.append(until.isoformat())
            sql += "ORDER BY bm25(chunks_fts) LIMIT ?"
        else:
            sql = (
                "SELECT c.chunk_id, -f.rank FROM (SELECT rowid, rank FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?) f "
                "JOIN chunks c ON c.id = f.rowid ORDER BY f.rank"
            )
        params.append(n)
        with self._lock:
            try:
                rows = self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as ex:  # a query FTS5 cannot parse
                logger.warning("BM25 query failed (%s): %r", ex, match)
                return []
        return [(r[0], float(r[1])) for r in rows]

    def _selective(self, terms: list[str]) -> list[str]:
        """``terms`` without the most common ones, so that at most ~``BM25_ROW_BUDGET`` rows match.

        FTS5 scores every row that matches any term, so on a large store a few common words
        ("president", "new") make a query score most of the index while adding little to
        the ranking (their IDF is low). Terms are kept rarest first while the sum of their
        row counts stays within the budget (the rarest is always kept); on a small store
        that keeps them all. Counting a term's rows stops at the budget and is cached until
        the store grows or shrinks by a quarter.
        """
        if len(terms) < 2:
            return terms
        with self._lock:
            total = int(self._db.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0])
        if total <= BM25_ROW_BUDGET:
            return terms
        rows = self.term_rows(terms)
        kept: set[str] = set()
        matched = 0
        for term in sorted(terms, key=rows.__getitem__):
            if kept and matched + rows[term] > BM25_ROW_BUDGET:
                break
            kept.add(term)
            matched += rows[term]
        return [t for t in terms if t in kept]

    def term_rows(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term, counted up to ``BM25_ROW_BUDGET + 1``.

        Cached until the store grows or shrinks by a quarter.
        """
        rows: dict[str, int] = {}
        with self._lock:
            total = int(self._db.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0])
            if len(self._term_rows) > 100_000:
                self._term_rows.clear()
            for term in terms:
                cached = self._term_rows.get(term)
                if cached is None or not 0.8 * cached[1] <= total <= 1.25 * cached[1]:
                    count = self._db.execute(
                        "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? "
                        "LIMIT ?)",
                        (_phrase(term), BM25_ROW_BUDGET + 1),
                    ).fetchone()[0]
                    cached = self._term_rows[term] = (int(count), total)
                rows[term] = cached[0]
        return rows

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

    def published(self, chunk_ids: Sequence[str]) -> dict[str, date | None]:
        """The publication date of each known chunk's article (None when undated)."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT c.chunk_id, a.published FROM chunks c JOIN articles a "
                f"ON a.doc_id = c.doc_id WHERE c.chunk_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: _date(r[1]) for r in rows}

    def window_ids(self, since: date, until: date) -> tuple[str, ...]:
        """Ids of the chunks published within [since, until], undated ones included.

        Cached until the store changes (here or in another process): questions asked on
        the same day share their recent window, and listing 7k ids costs ~30 ms.
        """
        with self._lock:
            state = (self._sqlite_data_version(), self._db.total_changes)
            if state != self._windows_at:
                self._windows.clear()
                self._windows_at = state
            ids = self._windows.get((since, until))
            if ids is None:
                rows = self._db.execute(
                    "SELECT c.chunk_id FROM articles a JOIN chunks c ON c.doc_id = a.doc_id "
                    "WHERE a.published BETWEEN ? AND ? OR a.published IS NULL",
                    (since.isoformat(), until.isoformat()),
                ).fetchall()
                ids = self._windows[(since, until)] = tuple(r[0] for r in rows)
                if len(self._windows) > _WINDOWS_CACHED:
                    del self._windows[next(iter(self._windows))]  # the oldest
        return ids

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


def _phrase(term: str) -> str:
    """An FTS5 string literal: any text searched as itself, never as query syntax."""
    return '"' + term.replace('"', '""') + '"'


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


def _check_vectors(
    items: Sequence[tuple[Article, str, Sequence[Chunk]]],
    vectors: Sequence[Sequence[float]] | np.ndarray,
) -> None:
    chunks = sum(len(cs) for _, _, cs in items)
    if chunks != len(vectors):
        raise ValueError(f"{chunks} chunks but {len(vectors)} vectors")


def _chunk_metadata(chunk: Chunk, article: Article, content_hash: str) -> dict[str, Any]:
    # idx and content_hash let a server-mode reader rebuild its index from Chroma alone.
    return {
        "doc_id": chunk.doc_id,
        "title": article.title,
        "published_ord": _ord(article.published),
        "start": chunk.start,
        "end": chunk.end,
        "idx": chunk.index,
        "content_hash": content_hash,
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


# ---- server mode ---------------------------------------------------------------------------

_P = ParamSpec("_P")
_R = TypeVar("_R")
_GENERATION_ID = "~generation"  # the record whose token every write changes
_FETCH_ARTICLES = 64  # articles fetched per request when the cache catches up


def _remote(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a Chroma server failure inside ``method`` into a ``StoreUnavailableError``."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        store = cast("ServerStore", args[0])
        with store.server_errors():
            return method(*args, **kwargs)

    return wrapper


def _synced(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """A read of the local index, run after the index caught up with the server."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        cast("ServerStore", args[0]).sync()
        return method(*args, **kwargs)

    return wrapper


class ServerStore(Store):
    """A collection on a Chroma server (``chroma run``), shared by writers on many machines.

    The server is the source of truth. Each chunk record carries its text (as the Chroma
    document) and everything the index needs in its metadata (doc_id, title, date, offsets,
    the article's content hash); the collection ``<collection>-docs`` holds one record per
    article (its full text and metadata) and a generation token that every write replaces.
    The local SQLite index (articles, chunks, FTS5/BM25) under ``path`` is a cache: before a
    read it compares the server's generation with the one it was built at and, when they
    differ, fetches the articles whose content hash changed and drops the deleted ones. A
    single Chroma server has no keyword index of its own, so BM25 stays local.

    Writers take no lock (a file lock cannot protect writers on different machines).
    Instead chunk ids are deterministic and every write is an upsert; an article record is
    written after its chunks and deleted before them, so it marks the article complete, and
    the cache takes an article only when it finds exactly ``chunks`` chunk records carrying
    its content hash. Concurrent ingests of different articles therefore lose nothing, and
    re-running an interrupted one converges.

    Example:
        >>> store = ServerStore("http://127.0.0.1:8000", Path("/tmp/cache"))
        >>> store.count()
        0
    """

    def __init__(
        self,
        url: str,
        path: Path,
        collection: str = "articles",
        *,
        headers: dict[str, str] | None = None,
        sync_interval: float = 1.0,
    ) -> None:
        """Connect to the server at ``url``; keep the local index cache under ``path``."""
        self.url = url
        self._host, self._port, self._ssl = _parse_url(url)
        self._headers = dict(headers or {})
        self._sync_interval = sync_interval
        self._checked_at = float("-inf")
        key = hashlib.sha256(f"{url.rstrip('/')}|{collection}".encode()).hexdigest()[:16]
        with self.server_errors():
            super().__init__(Path(path) / "servers" / key, collection)
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS sync (key TEXT PRIMARY KEY, value TEXT)")

    @contextmanager
    def server_errors(self) -> Iterator[None]:
        """Report an unreachable or failing server with its URL instead of a stack trace."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            yield
        except (httpx.HTTPError, ChromaError, ConnectionError) as ex:
            raise self._unavailable(ex) from ex

    def _unavailable(self, ex: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Cannot use the Chroma server at {self.url}: {ex} (is `chroma run` serving there, "
            "and are store.url and the token right?)"
        )

    def _open_chroma(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            self._client = chromadb.HttpClient(
                host=self._host, port=self._port, ssl=self._ssl, headers=self._headers,
                settings=ChromaSettings(anonymized_telemetry=False),
            )  # fmt: skip
        except ValueError as ex:  # chromadb's "Could not connect to a Chroma server"
            raise self._unavailable(ex) from ex
        self._collection = self._client.get_or_create_collection(
            self._collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._docs = self._client.get_or_create_collection(
            f"{self._collection_name}-docs", embedding_function=None
        )

    def _chroma(self) -> Collection:
        return self._collection  # every request reads the server's current state

    # ---- writing ---------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Serialise this process's writers only; other processes need no lock (see class)."""
        with self._lock:
            yield

    @_remote
    def put(
        self,
        items: Sequence[tuple[Article, str, Sequence[Chunk]]],
        vectors: Sequence[Sequence[float]] | np.ndarray,
    ) -> None:
        """Upsert the articles' chunks, then their article records, then update the cache."""
        _check_vectors(items, vectors)
        doc_ids = [article.doc_id for article, _, _ in items]
        with self._lock:
            stored = set(self._docs.get(ids=doc_ids, include=[])["ids"])
            self._upsert_chunks(items, vectors)
            for article, digest, _ in items:
                if article.doc_id in stored:  # an update: drop the old version's extra chunks
                    where = {"$and": [{"doc_id": article.doc_id},
                                      {"content_hash": {"$ne": digest}}]}  # fmt: skip
                    self._collection.delete(where=cast("Where", where))
            self._docs.upsert(
                ids=doc_ids,
                embeddings=np.ones((len(items), 1), dtype=np.float32),  # unused, but required
                documents=[article.text for article, _, _ in items],
                metadatas=[_article_metadata(a, h, len(cs)) for a, h, cs in items],
            )
            self._bump_generation()
            with self._db:
                self._delete_rows(doc_ids)
                self._insert_rows(items)

    @_remote
    def delete(self, doc_id: str) -> bool:
        """Remove an article (its record first, so readers stop using it) and its chunks."""
        with self._lock:
            if not self._docs.get(ids=[doc_id], include=[])["ids"]:
                return False
            self._docs.delete(ids=[doc_id])
            self._delete_vectors([doc_id])
            self._bump_generation()
            with self._db:
                self._delete_rows([doc_id])
        return True

    def _bump_generation(self) -> None:
        self._docs.upsert(
            ids=[_GENERATION_ID], embeddings=np.ones((1, 1), dtype=np.float32),
            metadatas=[{"kind": "generation", "token": uuid.uuid4().hex}],
        )  # fmt: skip

    # ---- keeping the local index in step ---------------------------------------------------

    @_remote
    def sync(self, force: bool = False) -> None:
        """Bring the local index up to date with the server; one small request if unchanged.

        Checks at most every ``sync_interval`` seconds unless ``force``.
        """
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked_at < self._sync_interval:
                return
            got = self._docs.get(ids=[_GENERATION_ID], include=["metadatas"])
            token = str(got["metadatas"][0]["token"]) if got["metadatas"] else None
            row = self._db.execute("SELECT value FROM sync WHERE key='generation'").fetchone()
            if token != (row[0] if row else None):
                self._catch_up(token)
            self._checked_at = now

    def _catch_up(self, token: str | None) -> None:
        # Read the token before listing: a write that lands after it changes the token
        # again, so the next sync sees it even if this listing missed it.
        server = self._server_hashes()
        cached = dict(self._db.execute("SELECT doc_id, content_hash FROM articles").fetchall())
        gone = [doc_id for doc_id in cached if doc_id not in server]
        changed = [d for d, digest in server.items() if cached.get(d) != digest]
        items: list[tuple[Article, str, list[Chunk]]] = []
        complete = True
        for i in range(0, len(changed), _FETCH_ARTICLES):
            fetched, done = self._fetch(changed[i : i + _FETCH_ARTICLES])
            items += fetched
            complete = complete and done
        with self._db:
            self._delete_rows(gone + [article.doc_id for article, _, _ in items])
            self._insert_rows(items)
            # An article still being written is retried at the next sync (token "").
            self._db.execute(
                "INSERT OR REPLACE INTO sync VALUES ('generation', ?)",
                (token if complete else "",),
            )
        logger.info("synced with %s: %d changed, %d removed%s", self.url, len(items), len(gone),
                    "" if complete else " (some still being written)")  # fmt: skip

    def _server_hashes(self) -> dict[str, str]:
        """doc_id -> content hash of every complete article on the server."""
        hashes: dict[str, str] = {}
        offset = 0
        while True:
            got = self._docs.get(
                where={"kind": "article"}, include=["metadatas"], limit=self._max_batch,
                offset=offset,
            )  # fmt: skip
            metas = got["metadatas"] or []
            for doc_id, meta in zip(got["ids"], metas, strict=True):
                hashes[doc_id] = str(meta["content_hash"])
            if len(got["ids"]) < self._max_batch:
                return hashes
            offset += self._max_batch

    def _fetch(self, doc_ids: list[str]) -> tuple[list[tuple[Article, str, list[Chunk]]], bool]:
        """The complete articles among ``doc_ids`` with their chunks; False if any was not."""
        got = self._docs.get(ids=doc_ids, include=["documents", "metadatas"])
        records = {
            doc_id: (text, meta)
            for doc_id, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
            )
        }
        chunks: dict[str, list[Chunk]] = {doc_id: [] for doc_id in records}
        for chunk_id, text, m in self._chunk_records(doc_ids):
            record = records.get(str(m["doc_id"]))
            if record and m.get("content_hash") == record[1]["content_hash"]:
                chunks[str(m["doc_id"])].append(Chunk(
                    chunk_id, str(m["doc_id"]), int(m["idx"]), text, int(m["start"]), int(m["end"])
                ))  # fmt: skip
        items, complete = [], len(records) == len(doc_ids)
        for doc_id, (text, meta) in records.items():
            m = dict(meta)
            if len(chunks[doc_id]) != m["chunks"]:
                complete = False  # being written (or deleted) right now: next sync
                continue
            published, url = m.get("published"), m.get("url")
            article = Article(
                doc_id, str(m["title"]), text, str(m.get("source") or ""),
                url=str(url) if url else None, published=_date(str(published or "")),
            )  # fmt: skip
            ordered = sorted(chunks[doc_id], key=lambda c: c.index)
            items.append((article, str(m["content_hash"]), ordered))
        return items, complete

    def _chunk_records(self, doc_ids: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(chunk_id, text, metadata) of every chunk record of these articles, page by page."""
        offset = 0
        while True:
            page = self._collection.get(
                where=cast("Where", {"doc_id": {"$in": doc_ids}}),
                include=["documents", "metadatas"], limit=self._max_batch, offset=offset,
            )  # fmt: skip
            yield from zip(
                page["ids"], page["documents"] or [], map(dict, page["metadatas"] or []),
                strict=True,
            )  # fmt: skip
            if len(page["ids"]) < self._max_batch:
                return
            offset += self._max_batch

    # ---- reading: the local index, after catching up ---------------------------------------

    count = _synced(Store.count)
    list_articles = _synced(Store.list_articles)
    article = _synced(Store.article)
    content_hash = _synced(Store.content_hash)
    bm25_search = _synced(Store.bm25_search)
    term_rows = _synced(Store.term_rows)
    hits = _synced(Store.hits)
    chunk_ids = _synced(Store.chunk_ids)
    published = _synced(Store.published)
    window_ids = _synced(Store.window_ids)
    dense_search = _remote(Store.dense_search)
    vector_count = _remote(Store.vector_count)
    vector_ids = _remote(Store.vector_ids)


def _article_metadata(article: Article, content_hash: str, chunks: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "kind": "article", "title": article.title, "source": article.source,
        "content_hash": content_hash, "chunks": chunks,
    }  # fmt: skip
    if article.url:  # Chroma metadata has no null
        meta["url"] = article.url
    if article.published:
        meta["published"] = article.published.isoformat()
    return meta


def _parse_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of ``http(s)://host[:port]``; the port defaults as in any URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ConfigError(f"store.url must look like http://host:port, not {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as ex:
        raise ConfigError(f"store.url has an invalid port: {url!r}") from ex
    return parts.hostname, port, parts.scheme == "https"


def open_store(settings: StoreSettings, path: Path) -> Store:
    """The store ``settings`` describe: on a Chroma server if ``url`` is set, else at ``path``.

    Example:
        >>> open_store(StoreSettings(url="http://127.0.0.1:8000"), Path("/tmp/cache"))
    """
    if not settings.url:
        return Store(path, settings.collection)
    headers = dict(settings.headers)
    if settings.token_env:
        token = os.environ.get(settings.token_env)
        if not token:
            raise ConfigError(
                f"store.token_env names ${settings.token_env}, which is not set: export the "
                "Chroma server's token there."
            )
        headers["Authorization"] = f"Bearer {token}"
    return ServerStore(settings.url, path, settings.collection, headers=headers,
                       sync_interval=settings.sync_interval)  # fmt: skip
