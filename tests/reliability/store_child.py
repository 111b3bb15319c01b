"""A child process for the crash, restart and lock tests (run as a script, never imported).

    store_child.py ingest STORE CORPUS... [--progress FILE] [--batch N] [--real]
                                          [--hang-at K] [--delete DOC_ID]...
    store_child.py hold STORE        # hold the write lock until a line arrives on stdin
    store_child.py verify STORE      # check the invariants; print a JSON summary
    store_child.py serve STORE       # a long-lived process: one command a line on stdin,
                                     # "ingest PATH", "verify" or "quit"; one JSON line out

``ingest`` appends to the progress file the number of chunks committed after every write
(``mid`` when it stops, with ``--hang-at K``, inside its K-th write after Chroma was written
and before SQLite commits) and prints the ``IngestReport`` as JSON at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relkit import KeywordEmbedder, assert_store_consistent, self_retrieval  # noqa: E402

from rag.assistant import Assistant  # noqa: E402
from rag.config import Settings, StoreSettings  # noqa: E402
from rag.store import LocalStore, SearchIndex  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["ingest", "hold", "verify", "serve"])
    parser.add_argument("store", type=Path)
    parser.add_argument("corpus", nargs="*", type=Path)
    parser.add_argument("--progress", type=Path)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--real", action="store_true", help="the real embedding model")
    parser.add_argument("--hang-at", type=int, default=0)
    parser.add_argument("--delete", action="append", default=[])
    parser.add_argument("--lock-timeout", type=float, default=10.0)
    args = parser.parse_args()

    store = LocalStore(args.store, lock_timeout=args.lock_timeout)
    if args.mode == "hold":
        with store.writing():
            print("locked", flush=True)  # noqa: T201
            sys.stdin.readline()
        store.close()
        return
    if args.mode == "verify":
        print(json.dumps(_verify(store)), flush=True)  # noqa: T201
        store.close()
        return

    if args.mode == "serve":
        _serve(store)
        return

    progress = open(args.progress, "a", buffering=1) if args.progress else None
    _instrument(progress, args.hang_at)
    if args.real:
        from rag import embed
        from rag.config import EmbedSettings

        embedder = embed.load(EmbedSettings())
    else:
        embedder = KeywordEmbedder()  # type: ignore[assignment]
    # many small writes: many crash points
    settings = Settings(store=StoreSettings(path=args.store), ingest={"batch_chunks": args.batch})
    assistant = Assistant(settings, embedder=embedder, store=store)  # type: ignore[arg-type]
    if progress:
        progress.write("start\n")
    report = assistant.ingest(args.corpus) if args.corpus else None
    deleted = [doc_id for doc_id in args.delete if assistant.delete(doc_id)]
    out = report.to_dict() if report else {}
    out["deleted"] = deleted
    print(json.dumps(out), flush=True)  # noqa: T201
    store.close()


def _serve(store: LocalStore) -> None:
    assistant = Assistant(Settings(store=StoreSettings(path=store.path)),
                          embedder=KeywordEmbedder(), store=store)  # type: ignore[arg-type]  # fmt: skip
    print(json.dumps({"ready": True}), flush=True)  # noqa: T201
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            break
        if command == "ingest":
            out = assistant.ingest([arg]).to_dict()
        elif command == "verify":
            out = _verify(store)
        else:
            out = {"error": f"unknown command {command!r}"}
        print(json.dumps(out), flush=True)  # noqa: T201
    store.close()


def _verify(store: LocalStore) -> dict[str, object]:
    """What a fresh process sees: consistency, self-retrieval, keyword search, per article."""
    assert_store_consistent(store)
    score, misses = self_retrieval(store, KeywordEmbedder())
    keyword_misses = [
        a.doc_id
        for a in store.list_articles()
        if a.doc_id.startswith("gen-")
        and not any(
            cid.startswith(f"{a.doc_id}:")
            for cid, _ in store.bm25_search(f"kw{int(a.doc_id[4:])}x", 5)
        )
    ]
    return {
        "chunks": store.count(),
        "chunk_ids": sorted(store.chunk_ids()),
        "docs": sorted(a.doc_id for a in store.list_articles()),
        "self_retrieval": score,
        "misses": misses,
        "keyword_misses": keyword_misses,
    }


def _instrument(progress: object, hang_at: int) -> None:
    """Report every committed write; optionally hang between Chroma and SQLite."""
    put, delete_rows = LocalStore.put, SearchIndex.delete_rows
    state = threading.local()
    counts = {"puts": 0, "chunks": 0}

    def traced_put(self: LocalStore, items, vectors) -> None:  # type: ignore[no-untyped-def]
        counts["puts"] += 1
        state.in_put = True
        try:
            put(self, items, vectors)
        finally:
            state.in_put = False
        counts["chunks"] += len(vectors)
        if progress:
            progress.write(f"{counts['chunks']}\n")  # type: ignore[attr-defined]

    def traced_delete_rows(self: SearchIndex, doc_ids) -> None:  # type: ignore[no-untyped-def]
        if getattr(state, "in_put", False) and counts["puts"] == hang_at:
            if progress:
                progress.write("mid\n")  # type: ignore[attr-defined]
            time.sleep(600)  # Chroma has the vectors, SQLite has not committed: kill me now
        delete_rows(self, doc_ids)

    LocalStore.put = traced_put  # type: ignore[method-assign]
    SearchIndex.delete_rows = traced_delete_rows  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
