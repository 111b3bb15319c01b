"""A writer process for the server tests (run as a script, never imported).

    ingest_child.py URL CACHE_DIR COLLECTION READY_FILE GO_FILE PATH...

Connects, touches READY_FILE, waits for GO_FILE (so that two children write at the same
time), then ingests the PATHs one at a time (one write each) and prints, as JSON, the doc_ids
it added and when it started and ended writing. The subject is consistency, not embeddings:
the writers use the reliability tests' ``KeywordEmbedder`` (the real tokenizer, hashed-keyword
vectors), which starts in seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))

from relkit import KeywordEmbedder  # noqa: E402

from rag.assistant import Assistant  # noqa: E402
from rag.config import Settings, StoreSettings  # noqa: E402


def main() -> None:
    url, cache, collection, ready, go, *paths = sys.argv[1:]
    store = StoreSettings(url=url, path=Path(cache), collection=collection, sync_interval=0)
    assistant = Assistant(Settings(store=store), embedder=KeywordEmbedder())  # type: ignore[arg-type]
    assistant.store.count()  # connected before the race starts
    Path(ready).touch()
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    added: list[str] = []
    started = time.time()
    for path in paths:
        added += assistant.ingest([path]).added
    print(json.dumps({"added": added, "started": started, "ended": time.time()}))  # noqa: T201


if __name__ == "__main__":
    main()
