"""A store on a Chroma server (``chroma run``), shared by writers on many machines.

The server is the source of truth. Each chunk record carries its text and everything the
index needs in its metadata (see ``rag.store.vectors``); the collection
``<collection>-docs`` holds one record per article (its full text and metadata) and a
generation token that every write replaces. The local SQLite index under ``path`` is a
cache: before every read it compares the server's generation with the one it was built at
and, when they differ, fetches the articles whose content hash changed and drops the
deleted ones. A single Chroma server has no keyword index of its own, so BM25 stays local.

Writers take no lock (a file lock cannot protect writers on different machines). Instead
chunk ids are deterministic and every write is an upsert; an article record is written
after its chunks and deleted before them, so it marks the article complete, and the cache
takes an article only when it finds exactly ``chunks`` chunk records carrying its content
hash. Concurrent ingests of different articles therefore lose nothing, and re-running an
interrupted one converges.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from rag.config import IndexSettings
from rag.errors import ConfigError, StoreUnavailableError
from rag.store.index import Item, SearchIndex, make_dir, parse_day
from rag.store.reads import IndexedReads
from rag.store.vectors import ChunkVectors, VectorArray, check_vectors, open_collection
from rag.types import Article, Chunk

logger = logging.getLogger(__name__)

_GENERATION_ID = "~generation"  # the record whose token every write changes
_FETCH_ARTICLES = 64  # articles fetched per request when the cache catches up
_SYNC = "CREATE TABLE IF NOT EXISTS sync (key TEXT PRIMARY KEY, value TEXT)"


class ServerStore(IndexedReads):
    """A collection on a Chroma server, with a local keyword index that follows it.

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
        index: IndexSettings | None = None,
    ) -> None:
        """Connect to the server at ``url``; keep the local index cache under ``path``."""
        self.url = url
        self._sync_interval = sync_interval
        self._checked_at = float("-inf")
        host, port, ssl = _parse_url(url)
        key = hashlib.sha256(f"{url.rstrip('/')}|{collection}".encode()).hexdigest()[:16]
        self.path = make_dir(Path(path) / "servers" / key)
        with self.server_errors():
            self._client, self._chunks, self._docs = self._connect(
                host, port, ssl, dict(headers or {}), collection
            )
        self._idx = SearchIndex(self.path / "index.sqlite3", index)
        self._lock = self._idx.lock
        with self._idx.db:
            self._idx.db.execute(_SYNC)

    def _connect(
        self, host: str, port: int, ssl: bool, headers: dict[str, str], collection: str
    ) -> tuple[Any, ChunkVectors, Any]:
        """The client, the chunk vectors and the article collection."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=headers,
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except ValueError as ex:  # chromadb's "Could not connect to a Chroma server"
            raise self._unavailable(ex) from ex
        chunks = ChunkVectors(open_collection(client, collection), client.get_max_batch_size())
        docs = client.get_or_create_collection(f"{collection}-docs", embedding_function=None)
        return client, chunks, docs

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

    # ---- what reads use: every one syncs first ----------------------------------------------

    def _index(self) -> SearchIndex:
        self.sync()
        return self._idx

    @contextmanager
    def _vectors(self) -> Iterator[ChunkVectors]:
        with self._lock, self.server_errors():
            yield self._chunks  # every request reads the server's current state

    # ---- writing ------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Serialise this process's writers only; other processes need no lock (see module)."""
        with self._lock:
            yield

    def put(self, items: Sequence[Item], vectors: VectorArray) -> None:
        """Upsert the articles' chunks, then their article records, then update the cache."""
        check_vectors(items, vectors)
        doc_ids = [article.doc_id for article, _, _ in items]
        with self._lock, self.server_errors():
            stored = set(self._docs.get(ids=doc_ids, include=[])["ids"])
            self._chunks.upsert(items, vectors)
            for article, digest, _ in items:
                if article.doc_id in stored:  # an update: drop the old version's extra chunks
                    self._chunks.delete_where(
                        {"$and": [{"doc_id": article.doc_id}, {"content_hash": {"$ne": digest}}]}
                    )
            self._docs.upsert(
                ids=doc_ids,
                embeddings=np.ones((len(items), 1), dtype=np.float32),  # unused, but required
                documents=[article.text for article, _, _ in items],
                metadatas=[_article_metadata(a, h, len(cs)) for a, h, cs in items],
            )
            self._bump_generation()
            with self._idx.db:
                self._idx.delete_rows(doc_ids)
                self._idx.insert_rows(items)

    def delete(self, doc_id: str) -> bool:
        """Remove an article (its record first, so readers stop using it) and its chunks."""
        with self._lock, self.server_errors():
            if not self._docs.get(ids=[doc_id], include=[])["ids"]:
                return False
            self._docs.delete(ids=[doc_id])
            self._chunks.delete_articles([doc_id])
            self._bump_generation()
            with self._idx.db:
                self._idx.delete_rows([doc_id])
        return True

    def _bump_generation(self) -> None:
        self._docs.upsert(
            ids=[_GENERATION_ID],
            embeddings=np.ones((1, 1), dtype=np.float32),
            metadatas=[{"kind": "generation", "token": uuid.uuid4().hex}],
        )

    # ---- keeping the local index in step -------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Bring the local index up to date with the server; one small request if unchanged.

        Checks at most every ``sync_interval`` seconds unless ``force``.
        """
        with self._lock, self.server_errors():
            now = time.monotonic()
            if not force and now - self._checked_at < self._sync_interval:
                return
            got = self._docs.get(ids=[_GENERATION_ID], include=["metadatas"])
            token = str(got["metadatas"][0]["token"]) if got["metadatas"] else None
            row = self._idx.db.execute("SELECT value FROM sync WHERE key='generation'").fetchone()
            if token != (row[0] if row else None):
                self._catch_up(token)
            self._checked_at = now

    def _catch_up(self, token: str | None) -> None:
        # Read the token before listing: a write that lands after it changes the token
        # again, so the next sync sees it even if this listing missed it.
        server = self._server_hashes()
        cached = self._idx.hashes()
        gone = [doc_id for doc_id in cached if doc_id not in server]
        changed = [d for d, digest in server.items() if cached.get(d) != digest]
        items: list[Item] = []
        complete = True
        for i in range(0, len(changed), _FETCH_ARTICLES):
            fetched, done = self._fetch(changed[i : i + _FETCH_ARTICLES])
            items += fetched
            complete = complete and done
        with self._idx.db:
            self._idx.delete_rows(gone + [article.doc_id for article, _, _ in items])
            self._idx.insert_rows(items)
            # An article still being written is retried at the next sync (token "").
            self._idx.db.execute(
                "INSERT OR REPLACE INTO sync VALUES ('generation', ?)",
                (token if complete else "",),
            )
        logger.info(
            "synced with %s: %d changed, %d removed%s",
            self.url,
            len(items),
            len(gone),
            "" if complete else " (some still being written)",
        )

    def _server_hashes(self) -> dict[str, str]:
        """doc_id -> content hash of every complete article on the server."""
        hashes: dict[str, str] = {}
        offset, page = 0, self._chunks.max_batch
        while True:
            got = self._docs.get(
                where={"kind": "article"}, include=["metadatas"], limit=page, offset=offset
            )
            metas = got["metadatas"] or []
            for doc_id, meta in zip(got["ids"], metas, strict=True):
                hashes[doc_id] = str(meta["content_hash"])
            if len(got["ids"]) < page:
                return hashes
            offset += page

    def _fetch(self, doc_ids: list[str]) -> tuple[list[Item], bool]:
        """The complete articles among ``doc_ids`` with their chunks; False if any was not."""
        got = self._docs.get(ids=doc_ids, include=["documents", "metadatas"])
        records = {
            doc_id: (text, dict(meta))
            for doc_id, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
            )
        }
        chunks: dict[str, list[Chunk]] = {doc_id: [] for doc_id in records}
        for chunk_id, text, m in self._chunks.records(doc_ids):
            doc_id = str(m["doc_id"])
            record = records.get(doc_id)
            if record and m.get("content_hash") == record[1]["content_hash"]:
                chunks[doc_id].append(
                    Chunk(chunk_id, doc_id, int(m["idx"]), text, int(m["start"]), int(m["end"]))
                )
        items: list[Item] = []
        complete = len(records) == len(doc_ids)
        for doc_id, (text, m) in records.items():
            if len(chunks[doc_id]) != m["chunks"]:
                complete = False  # being written (or deleted) right now: next sync
                continue
            published, url = m.get("published"), m.get("url")
            article = Article(
                doc_id,
                str(m["title"]),
                text,
                str(m.get("source") or ""),
                url=str(url) if url else None,
                published=parse_day(str(published or "")),
            )
            ordered = sorted(chunks[doc_id], key=lambda c: c.index)
            items.append((article, str(m["content_hash"]), ordered))
        return items, complete

    def close(self) -> None:
        """Close the local index and the client."""
        with self._lock:
            self._idx.close()
            close = getattr(self._client, "close", None)
            if close:
                close()


def _article_metadata(article: Article, content_hash: str, chunks: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "kind": "article",
        "title": article.title,
        "source": article.source,
        "content_hash": content_hash,
        "chunks": chunks,
    }
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
