"""Model responses kept on disk by prompt, for ``rag eval --llm-cache``.

Tuning a rule that acts after the model (the gate, verification) needs the same model
answers again and again; on this CPU each costs seconds. With a cache the model runs only
for prompts it has not seen, so a second run over the same questions takes a few seconds
when only post-model rules changed. Timings of replayed answers mean nothing, and a run
records that it used a cache.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class SqliteResponseCache:
    """A ``rag.llm.ResponseCache`` in one SQLite file (safe across threads)."""

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the cache file."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT)")
        self._db.commit()
        self.hits = self.misses = 0

    def get(self, key: str) -> str | None:
        """The stored response for ``key``, if any."""
        with self._lock:
            row = self._db.execute("SELECT text FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
            return str(row[0])

    def put(self, key: str, text: str) -> None:
        """Store ``text`` for ``key``."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, text))
            self._db.commit()
