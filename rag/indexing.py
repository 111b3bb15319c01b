"""Indexing: loaded articles -> chunks -> vectors -> the store, skipping unchanged ones.

An article's content hash covers everything that shapes its chunks and vectors (its text
and metadata, the chunk settings, the embedding model), so a changed setting re-indexes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from tqdm.auto import tqdm

from rag import chunk
from rag.config import Settings
from rag.embed import Embedder
from rag.ingest import LoadFailure, iter_load
from rag.store import Store
from rag.types import Article, IndexedArticle, IngestReport

logger = logging.getLogger(__name__)


def index(
    paths: Iterable[str | Path],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    progress: bool = False,
) -> IngestReport:
    """Load, chunk, embed and store the articles of ``paths``; unchanged ones are skipped.

    A file or article that cannot be read or split is one entry of ``failed``; the rest of
    the batch is stored.
    """
    report = IngestReport()
    pending: list[IndexedArticle] = []
    seen: set[str] = set()
    bar = tqdm(desc="ingest", unit=" articles", disable=not progress)
    for item in iter_load(paths, max_file_bytes=settings.ingest.max_file_bytes):
        bar.update()
        if isinstance(item, LoadFailure):
            logger.warning("skipped %s: %s", item.path, item.reason)
            report.failed.append((item.path, item.reason))
            continue
        if item.doc_id in seen:
            report.failed.append((item.source, f"duplicate doc_id {item.doc_id!r}"))
            continue
        seen.add(item.doc_id)
        digest = content_hash(item, settings)
        stored = store.content_hash(item.doc_id)
        if stored == digest:
            report.unchanged.append(item.doc_id)
            continue
        try:
            chunks = chunk.split_article(
                item,
                embedder.tokenizer,
                settings.chunk.max_tokens,
                settings.chunk.overlap_sentences,
            )
        except Exception as ex:  # one article the splitter chokes on is that one's failure
            logger.warning("cannot split %s", item.source, exc_info=True)
            report.failed.append((item.source, f"cannot be split ({type(ex).__name__})"))
            continue
        if not chunks:
            report.failed.append((item.source, "no text to index"))
            continue
        (report.added if stored is None else report.updated).append(item.doc_id)
        pending.append(IndexedArticle(item, digest, chunks))
        if sum(len(p.chunks) for p in pending) >= settings.ingest.batch_chunks:
            report.chunks += _write(pending, store, embedder)
            pending = []
    report.chunks += _write(pending, store, embedder)
    bar.close()
    return report


def content_hash(article: Article, settings: Settings) -> str:
    """Changes when the article or anything that shapes its chunks/vectors changes."""
    key = {
        "title": article.title,
        "text": article.text,
        "url": article.url,
        "published": article.published.isoformat() if article.published else None,
        "chunk": settings.chunk.model_dump(),
        "embed": settings.embed.model,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _write(items: list[IndexedArticle], store: Store, embedder: Embedder) -> int:
    if not items:
        return 0
    texts = [f"{i.article.title}\n{c.text}" for i in items for c in i.chunks]
    vectors = embedder.encode(texts)
    with store.writing():
        store.put(items, vectors)
    return len(texts)
