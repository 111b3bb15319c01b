"""Prompt speed of llama-cpp-python builds, side by side: tokens/s reading a prompt.

Each arm is a built wheel, unpacked into a temporary folder and imported by a child process
(so a build that dies with SIGILL is recorded as such, and the arms never share a process).
The child loads the packaged LLM and reads a prompt of ``--tokens`` tokens ``--repeats``
times; the figure is the median tokens/s. Arms alternate, so machine load hits them alike.

    python bench/llama_build.py --arm native=/path/native.whl --arm safe=/path/safe.whl \
        --arm "native-no-repack=/path/native.whl:no-repack"

An arm without a path measures the installed build. ``:no-repack`` loads the model without
llama.cpp's extra CPU buffer types (repacked weights and AMX tiles).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from common import ROOT, table, write_results


def _install_script() -> Any:
    """scripts/install_llama.py as a module (its AMX disassembly check)."""
    spec = importlib.util.spec_from_file_location(
        "install_llama", ROOT / "scripts" / "install_llama.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def amx_instructions(wheel: Path | None) -> int:
    """AMX instructions in the build's CPU library (objdump), wheel or installed."""
    script = _install_script()
    if wheel is None:
        libs = script._installed_libs()
        return script.amx_instructions(libs["libggml-cpu.so"])
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        return script.amx_instructions(Path(zf.extract("llama_cpp/lib/libggml-cpu.so", tmp)))


CHILD = r"""
import json, sys, time
import llama_cpp
from llama_cpp import Llama
model, tokens, repeats, repack = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if repack != "repack":  # llama.cpp's "no extra buffer types": no repacked or AMX weights
    import llama_cpp.llama_cpp as C
    default = C.llama_model_default_params
    def no_extra_bufts():
        params = default()
        params.use_extra_bufts = False
        return params
    C.llama_model_default_params = no_extra_bufts
llama = Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=int(sys.argv[5]),
              verbose=False)
sentence = "The council met on Tuesday and agreed to repair the old bridge before winter. "
prompt = llama.tokenize((sentence * 200).encode(), add_bos=True)[:tokens]
rates, cpu_rates = [], []
for _ in range(repeats):
    llama.reset()
    llama._ctx.kv_cache_clear()
    start, cpu = time.perf_counter(), time.process_time()
    llama.eval(prompt)
    rates.append(len(prompt) / (time.perf_counter() - start))
    cpu_rates.append(len(prompt) / (time.process_time() - cpu))
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"rates": rates, "cpu_rates": cpu_rates, "system_info": info}))
"""


def run_arm(wheel: Path | None, repack: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement of one build in a child process."""
    from rag.models import packaged_gguf_path, physical_cores

    with tempfile.TemporaryDirectory() as tmp:
        env_path = []
        if wheel is not None:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(tmp)
            env_path = [tmp]
        command = [
            sys.executable,
            "-c",
            f"import sys; sys.path[:0] = {env_path!r}\n{CHILD}",
            str(packaged_gguf_path()),
            str(args.tokens),
            str(args.repeats),
            "repack" if repack else "no-repack",
            str(args.threads or physical_cores()),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode < 0:
        return {"crashed": signal.Signals(-done.returncode).name}
    if done.returncode != 0:
        return {"failed": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arm",
        action="append",
        required=True,
        help="NAME=WHEEL[:no-repack] (WHEEL empty: the installed build)",
    )
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument(
        "--threads",
        type=int,
        help="llama.cpp threads (default: one per physical core). On a busy machine use 1 and "
        "read tokens per CPU-second, which other processes disturb far less than wall time.",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per arm")
    args = parser.parse_args()
    arms = {}
    for spec in args.arm:
        name, _, rest = spec.partition("=")
        path, _, mode = rest.partition(":")
        arms[name] = (Path(path) if path else None, mode != "no-repack")
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
    for _ in range(args.rounds):
        for name, (wheel, repack) in arms.items():
            measured[name].append(run_arm(wheel, repack, args))
            last = measured[name][-1]
            print(f"{name}: {last.get('crashed') or last.get('failed') or 'ok'}", file=sys.stderr)
    results = {}
    for name, runs in measured.items():
        crashed = next((r["crashed"] for r in runs if "crashed" in r), None)
        failed = next((r["failed"] for r in runs if "failed" in r), None)
        rates = [x for r in runs for x in r.get("rates", [])]
        cpu = [x for r in runs for x in r.get("cpu_rates", [])]
        results[name] = {
            "wheel": str(arms[name][0] or "installed"),
            "repacked_buffers": arms[name][1],
            "crashed": crashed,
            "failed": failed,
            "prompt_tokens_per_s": round(statistics.median(rates), 1) if rates else None,
            "all_rates": [round(x, 1) for x in rates],
            "prompt_tokens_per_cpu_s": round(statistics.median(cpu), 1) if cpu else None,
            "amx_instructions": amx_instructions(arms[name][0]),
            "system_info": next((r["system_info"] for r in runs if "system_info" in r), None),
        }
    rows = [
        (
            name,
            r["crashed"] or r["failed"] or r["prompt_tokens_per_s"],
            r["prompt_tokens_per_cpu_s"],
            r["amx_instructions"],
            r["repacked_buffers"],
        )
        for name, r in results.items()
    ]
    print(
        table(
            ["build", "prompt tokens/s (or crash)", "per CPU-s", "AMX instructions", "repack"], rows
        )
    )
    config = {
        "cpu_advertises_amx": "amx_tile" in _install_script().cpu_flags(),
        "tokens": args.tokens,
        "threads": args.threads,
        "repeats": args.repeats,
        "rounds": args.rounds,
        "arms": args.arm,
        "command": " ".join(sys.argv),
    }
    print(write_results("llama_build", config, results))


if __name__ == "__main__":
    main()
