"""After a delete: remove a deleted article's text from every file of a local store.

Deleting rows does not take their bytes off the disk. What is left, and what takes it off:

* ``index.sqlite3``: our own connection deletes with ``PRAGMA secure_delete`` (freed
  content is zeroed, see ``SearchIndex``); ``SearchIndex.compact`` merges the FTS5
  segments, which still hold a deleted chunk's terms until merged, and empties the WAL.
* ``chroma/chroma.sqlite3``: Chroma (1.5) deletes without zeroing, and keeps every write in
  its log (``embeddings_queue``, the chunk text and metadata included) until the vector
  segment has been flushed to disk, which happens every ``hnsw:sync_threshold`` (1,000)
  writes; ``chroma vacuum`` purges only what was flushed. So ``scrub_chroma`` blanks the
  metadata (with the text) of every log record that a later record for the same id
  supersedes (the upsert before a delete, an old version before its update): replaying the
  log into the vector index needs only ids and vectors, and the metadata segment has long
  applied them. Then it merges Chroma's full-text index and ``VACUUM``s the file.

What stays: in Chroma's log and HNSW files, the deleted chunks' ids (``doc_id:00042``) and
vectors (numbers, not text), until Chroma reuses their space; nothing of the text.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

logger = logging.getLogger(__name__)

_SUPERSEDED = """
WITH latest AS (SELECT topic, id, max(seq_id) AS seq_id FROM embeddings_queue GROUP BY 1, 2)
UPDATE embeddings_queue SET metadata = '{}' FROM latest
WHERE latest.topic = embeddings_queue.topic AND latest.id = embeddings_queue.id
  AND embeddings_queue.seq_id < latest.seq_id
  AND embeddings_queue.metadata IS NOT NULL AND embeddings_queue.metadata != '{}'
"""
_BUSY_TIMEOUT_S = 30.0


def scrub_chroma(chroma_dir: Path) -> None:
    """Take the text of deleted and replaced chunks out of Chroma's SQLite file (see module)."""
    file = chroma_dir / "chroma.sqlite3"
    if not file.exists():
        return
    db = sqlite3.connect(file, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete = ON")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if "embeddings_queue" in tables:
            before = db.total_changes
            db.execute(_SUPERSEDED)
            blanked = db.total_changes - before
            logger.info("blanked %d superseded record(s) of Chroma's log", blanked)
        if "embedding_fulltext_search" in tables:
            db.execute(
                "INSERT INTO embedding_fulltext_search(embedding_fulltext_search) "
                "VALUES ('optimize')"
            )
        db.execute("VACUUM")  # Chroma's own deletes left their bytes in freed pages
    finally:
        db.close()
