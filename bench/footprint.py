"""``rag serve`` cold start and memory; ``rag list`` stays light.

    python bench/footprint.py
    python bench/footprint.py --question "Why did Ukraine want Patriot systems?"

1. First setup: ``rag ingest seeds/`` into a temporary store (assembles the LLM once).
2. Cold start: spawn ``rag serve`` on a free port against that store and poll the HTTP port
   until it answers (*ready*); the models load in a background thread after that.
3. First answer: one question through the app's own HTTP API (gradio_client: ``/submit``
   then ``/answer``, as the browser does), timed from the spawn and from ready.
4. Memory: the server's RSS when ready and after the answer, and its peak (VmHWM), all
   models loaded.
5. ``rag list`` wall time in a fresh process, and whether it imported torch,
   sentence-transformers, llama_cpp or gradio (it should import none of them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, gate, proc_rss_mb, pyplot, table, write_results

NAME = "footprint"
TARGET_READY_S = 15.0
TARGET_RSS_MB = 2.5 * 1024
QUESTION = "Why did Ukraine want Patriot systems?"
TODAY = "2025-07-10"
HEAVY = ["torch", "sentence_transformers", "transformers", "llama_cpp", "gradio", "chromadb"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="What to ingest.")
    parser.add_argument("--question", default=QUESTION, help="The first question asked.")
    parser.add_argument("--today", default=TODAY, help="'Answer as of' date for the question.")
    parser.add_argument("--timeout", type=float, default=300, help="Seconds to wait for each.")
    parser.add_argument("--no-answer", action="store_true", help="Skip the first answer.")
    parser.add_argument("--out-dir", type=Path, help="Results folder (default bench/results).")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    store = work / "store"
    env = {**os.environ, "NEWSQA_STORE": str(store), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    env.pop("NEWSQA_CONFIG", None)
    rag = [sys.executable, "-m", "rag"]

    t0 = time.perf_counter()
    subprocess.run([*rag, "ingest", str(args.seeds)], env=env, check=True, cwd=ROOT,
                   capture_output=True, timeout=args.timeout)  # fmt: skip
    setup_s = time.perf_counter() - t0

    results: dict[str, Any] = {"first_setup_s": setup_s, "rag_list": _rag_list(rag, env)}
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(work / "serve.log", "w")  # noqa: SIM115  (closed below)
    t0 = time.perf_counter()
    server = subprocess.Popen([*rag, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        ready_s = _wait_http(url, server, args.timeout, t0)
        rss_ready, _ = proc_rss_mb(server.pid)
        results["serve"] = {"ready_s": ready_s, "rss_at_ready_mb": rss_ready}
        if not args.no_answer:
            answer = _first_answer(url, args.question, args.today, args.timeout)
            answered_s = time.perf_counter() - t0
            rss, peak = proc_rss_mb(server.pid)
            results["serve"].update({
                "first_answer_s_from_spawn": answered_s,
                "first_answer_s_from_ready": answered_s - ready_s,
                "answer_excerpt": answer[-600:],
                "rss_after_answer_mb": rss,
                "peak_rss_mb": peak,
            })  # fmt: skip
        else:
            _, peak = proc_rss_mb(server.pid)
            results["serve"]["peak_rss_mb"] = peak
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    results["serve_log_tail"] = (work / "serve.log").read_text(errors="replace")[-1500:]
    serve = results["serve"]
    results["targets"] = {
        "ready_s": gate(serve["ready_s"], TARGET_READY_S) | {"what": "spawn -> HTTP answers"},
        "peak_rss_mb": gate(serve["peak_rss_mb"], TARGET_RSS_MB)
        | {"what": "peak RSS of rag serve, all models loaded (after one answer)"},
    }
    config = {"argv": argv, "seeds": str(args.seeds), "question": args.question,
              "today": args.today, "no_answer": args.no_answer}  # fmt: skip
    path = write_results(NAME, config, results, args.out_dir)
    _plot(results, path.with_suffix(".png"))
    _print(results, path)
    shutil.rmtree(work, ignore_errors=True)  # stores can be GBs
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[Any], timeout: float, t0: float) -> float:
    """Seconds from ``t0`` until ``url`` answers (any HTTP status)."""
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return time.perf_counter() - t0
        except OSError as ex:
            if getattr(ex, "code", None):  # an HTTP error status: the server is answering
                return time.perf_counter() - t0
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _first_answer(url: str, question: str, today: str, timeout: float) -> str:
    """Ask through the app's API in one session: /submit shows it, /answer streams it."""
    from gradio_client import Client

    client = Client(url, verbose=False, httpx_kwargs={"timeout": timeout})
    client.predict(question, api_name="/submit")
    from rag.config import Settings

    k = Settings.from_toml(None).retrieve.k
    out = client.predict(k, None, None, today, api_name="/answer")
    return json.dumps(out, ensure_ascii=False, default=str)


def _rag_list(rag: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall time of ``rag list`` and the heavy modules a fresh process imported for it."""
    t0 = time.perf_counter()
    subprocess.run([*rag, "list"], env=env, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    probe = (
        "import sys, json\n"
        "from rag.cli import cli\n"
        "try:\n    cli(['list'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True, cwd=ROOT,
                         capture_output=True, text=True)  # fmt: skip
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "imported": loaded}


def _plot(results: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    serve = results["serve"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    labels = ["first setup\n(ingest seeds)", "serve ready", "first answer\n(from spawn)",
              "rag list"]  # fmt: skip
    values = [
        results["first_setup_s"],
        serve["ready_s"],
        serve.get("first_answer_s_from_spawn", 0.0),
        results["rag_list"]["wall_s"],
    ]
    axes[0].bar(labels, values, color=["tab:gray", "tab:blue", "tab:green", "tab:purple"])
    axes[0].axhline(TARGET_READY_S, ls="--", color="tab:red", label="ready target")
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=8)
    axes[0].tick_params(axis="x", labelsize=7)
    mem = ["ready", "after answer", "peak"]
    mvals = [serve["rss_at_ready_mb"], serve.get("rss_after_answer_mb", 0.0), serve["peak_rss_mb"]]
    axes[1].bar(mem, mvals, color="tab:orange")
    axes[1].axhline(TARGET_RSS_MB, ls="--", color="tab:red", label="RSS target")
    axes[1].set_ylabel("RSS (MB)")
    axes[1].legend(fontsize=8)
    fig.suptitle("rag serve footprint")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _print(results: dict[str, Any], path: Path) -> None:
    serve = results["serve"]
    rows = [
        ["first setup (rag ingest seeds/)", results["first_setup_s"], "-"],
        ["rag serve: HTTP ready", serve["ready_s"], serve["rss_at_ready_mb"]],
        ["rag serve: first answer (from spawn)", serve.get("first_answer_s_from_spawn",
                                                           float("nan")),
         serve.get("rss_after_answer_mb", float("nan"))],
        ["rag serve: peak RSS", "-", serve["peak_rss_mb"]],
        ["rag list", results["rag_list"]["wall_s"], "-"],
    ]  # fmt: skip
    print(table(["what", "seconds", "RSS MB"], rows))
    heavy = [m for m, yes in results["rag_list"]["imported"].items() if yes]
    print(f"rag list imported: {', '.join(heavy) or 'none of ' + ', '.join(HEAVY)}")
    for name, t in results["targets"].items():
        print(f"target {name}: {t['measured']:.1f} <= {t['target']:.0f}: "
              f"{'met' if t['met'] else 'NOT met'}")  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
