"""The bench scripts as modules, for tests (bench/ is no package: its scripts import ``common``)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, imported with bench/ on the path while it loads."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    """``rows`` as JSON lines at ``path`` (a corpus or a gold set for a bench script)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
