"""The SQLite side of a store: articles, chunks, an FTS5 (BM25) index, term counts, dates.

One file, ``index.sqlite3``. A local store keeps it beside its Chroma directory; a server
store keeps it as a cache of what the Chroma server holds. Either way it answers every read
that is not a vector search: rows, keyword search, how common a term is, date windows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rag.config import IndexSettings
from rag.errors import RagError
from rag.text import query_terms
from rag.types import Article, ArticleInfo, Chunk, Hit

logger = logging.getLogger(__name__)

Item = tuple[Article, str, Sequence[Chunk]]  # an article, its content hash and its chunks

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
"""
# Term counts are cached until the store grows or shrinks by a quarter; past this many
# terms the cache starts again (it holds one small tuple per distinct question word).
_TERMS_CACHED = 100_000


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


def make_dir(path: Path) -> Path:
    """Create a store directory, or say plainly why it cannot be created."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        raise RagError(f"cannot create the store at {path}: {ex.strerror or ex}") from ex
    return path


class SearchIndex:
    """Articles, chunks and their FTS5 index in one SQLite file.

    Every method takes ``lock`` (re-entrant), which the owning store also holds around its
    own multi-step writes. Writing methods (``insert_rows``, ``delete_rows``) do not commit:
    call them inside ``with index.db:``, one transaction.

    Example:
        >>> index = SearchIndex(Path("/tmp/store/index.sqlite3"))
        >>> index.bm25_search("harbour bridge", 5)
        []
    """

    def __init__(self, file: Path, settings: IndexSettings | None = None) -> None:
        """Open (creating if needed) the index at ``file``."""
        self.settings = settings or IndexSettings()
        self.lock = threading.RLock()
        self.db = sqlite3.connect(file, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        with self.db:
            self.db.execute("PRAGMA journal_mode=WAL")
            # A deleted article's text is overwritten, not left in freed pages (erase.py).
            self.db.execute("PRAGMA secure_delete=ON")
            self.db.executescript(_SCHEMA)
        self._term_rows: dict[str, tuple[int, int]] = {}  # term -> (rows, chunks then)
        self._windows: dict[tuple[date, date], tuple[str, ...]] = {}  # see window_ids
        self._windows_at: tuple[int, int] = (-1, -1)

    def data_version(self) -> int:
        """SQLite's ``data_version``: changes exactly when another connection commits."""
        with self.lock:
            return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.db.close()

    # ---- rows (inside ``with index.db:``) -------------------------------------------------

    def insert_rows(self, items: Sequence[Item]) -> None:
        """Insert articles and their chunks (FTS5 follows by trigger)."""
        self.db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?)",
            [
                (a.doc_id, a.title, a.url, _iso(a.published), a.source, a.text, h, len(cs))
                for a, h, cs in items
            ],
        )
        self.db.executemany(
            'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", text) VALUES (?,?,?,?,?,?)',
            [
                (c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text)
                for _, _, cs in items
                for c in cs
            ],
        )

    def delete_rows(self, doc_ids: Sequence[str]) -> None:
        """Delete articles and their chunks."""
        params = [(d,) for d in doc_ids]
        self.db.executemany("DELETE FROM chunks WHERE doc_id=?", params)
        self.db.executemany("DELETE FROM articles WHERE doc_id=?", params)

    def compact(self) -> None:
        """Take deleted rows' leftovers off the disk: FTS5 merged, the WAL emptied.

        FTS5 keeps a deleted chunk's terms in its segments until they are merged; with
        ``secure_delete`` the pages the merge frees are zeroed. The WAL keeps earlier
        versions of pages until a checkpoint.
        """
        with self.lock:
            with self.db:
                self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def hashes(self) -> dict[str, str]:
        """doc_id -> content hash of every article."""
        with self.lock:
            return dict(self.db.execute("SELECT doc_id, content_hash FROM articles").fetchall())

    # ---- reading --------------------------------------------------------------------------

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None."""
        with self.lock:
            row = self.db.execute(
                "SELECT content_hash FROM articles WHERE doc_id=?", (doc_id,)
            ).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        """Number of chunks."""
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def list_articles(self) -> list[ArticleInfo]:
        """Every article, newest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT doc_id, title, published, url, source, chunks FROM articles "
                "ORDER BY published DESC, title"
            ).fetchall()
        return [
            ArticleInfo(
                r["doc_id"],
                r["title"],
                parse_day(r["published"]),
                r["url"],
                r["source"],
                r["chunks"],
            )
            for r in rows
        ]

    def article(self, doc_id: str) -> StoredArticle | None:
        """One article with its full text, or None."""
        with self.lock:
            r = self.db.execute("SELECT * FROM articles WHERE doc_id=?", (doc_id,)).fetchone()
        if r is None:
            return None
        return StoredArticle(
            r["doc_id"],
            r["title"],
            r["url"],
            parse_day(r["published"]),
            r["source"] or "",
            r["text"],
            r["content_hash"],
            r["chunks"],
        )

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
        with self.lock:
            try:
                rows = self.db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as ex:  # a query FTS5 cannot parse
                logger.warning("BM25 query failed (%s): %r", ex, match)
                return []
        return [(r[0], float(r[1])) for r in rows]

    def _selective(self, terms: list[str]) -> list[str]:
        """``terms`` without the most common ones, so that at most ~``bm25_row_budget`` match.

        FTS5 scores every row that matches any term, so on a large store a few common words
        ("president", "new") make a query score most of the index while adding little to
        the ranking (their IDF is low). Terms are kept rarest first while the sum of their
        row counts stays within the budget (the rarest is always kept); on a small store
        that keeps them all.
        """
        budget = self.settings.bm25_row_budget
        if len(terms) < 2 or self._size() <= budget:
            return terms
        rows = self.term_rows(terms)
        kept: set[str] = set()
        matched = 0
        for term in sorted(terms, key=rows.__getitem__):
            if kept and matched + rows[term] > budget:
                break
            kept.add(term)
            matched += rows[term]
        return [t for t in terms if t in kept]

    def term_rows(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term, counted up to ``bm25_row_budget + 1``.

        Cached until the store grows or shrinks by a quarter.
        """
        limit = self.settings.bm25_row_budget + 1
        rows: dict[str, int] = {}
        with self.lock:
            total = self._size()
            if len(self._term_rows) > _TERMS_CACHED:
                self._term_rows.clear()
            for term in terms:
                cached = self._term_rows.get(term)
                if cached is None or not 0.8 * cached[1] <= total <= 1.25 * cached[1]:
                    count = self.db.execute(
                        "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? "
                        "LIMIT ?)",
                        (_phrase(term), limit),
                    ).fetchone()[0]
                    cached = self._term_rows[term] = (int(count), total)
                rows[term] = cached[0]
        return rows

    def _size(self) -> int:
        """The highest chunk row id: about how many chunks FTS5 may have to score."""
        with self.lock:
            return int(self.db.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0])

    def hits(self, scored: Sequence[tuple[str, float]]) -> list[Hit]:
        """Hits for (chunk_id, score) pairs, in the same order; unknown ids are dropped."""
        if not scored:
            return []
        ids = [chunk_id for chunk_id, _ in scored]
        with self.lock:
            rows = self.db.execute(
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
                published=parse_day(r["published"]),
                source=r["source"] or "",
            )
            for chunk_id, score in scored
            if (r := by_id.get(chunk_id)) is not None
        ]

    def published(self, chunk_ids: Sequence[str]) -> dict[str, date | None]:
        """The publication date of each known chunk's article (None when undated)."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        with self.lock:
            rows = self.db.execute(
                "SELECT c.chunk_id, a.published FROM chunks c JOIN articles a "
                f"ON a.doc_id = c.doc_id WHERE c.chunk_id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: parse_day(r[1]) for r in rows}

    def window_ids(self, since: date, until: date) -> tuple[str, ...]:
        """Ids of the chunks published within [since, until], undated ones included.

        Cached until the index changes (here or in another process): questions asked on
        the same day share their recent window, and listing 7k ids costs ~30 ms.
        """
        with self.lock:
            state = (self.data_version(), self.db.total_changes)
            if state != self._windows_at:
                self._windows.clear()
                self._windows_at = state
            ids = self._windows.get((since, until))
            if ids is None:
                rows = self.db.execute(
                    "SELECT c.chunk_id FROM articles a JOIN chunks c ON c.doc_id = a.doc_id "
                    "WHERE a.published BETWEEN ? AND ? OR a.published IS NULL",
                    (since.isoformat(), until.isoformat()),
                ).fetchall()
                ids = self._windows[(since, until)] = tuple(r[0] for r in rows)
                if len(self._windows) > self.settings.window_cache:
                    del self._windows[next(iter(self._windows))]  # the oldest
        return ids

    def chunk_ids(self) -> set[str]:
        """Every chunk id (for consistency checks)."""
        with self.lock:
            return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}


def _phrase(term: str) -> str:
    """An FTS5 string literal: any text searched as itself, never as query syntax."""
    return '"' + term.replace('"', '""') + '"'


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def parse_day(value: str | None) -> date | None:
    """A date from its ISO form; None for an empty or missing one."""
    return date.fromisoformat(value) if value else None
