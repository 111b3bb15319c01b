"""Does the in-process model run on this CPU? Checked once per build, in a child process.

A llama.cpp library compiled with instructions the CPU does not execute (AMX on an Intel VM
that advertises it without supporting it) kills the whole process with SIGILL as soon as it
reads a prompt: a dead server, or a request that never answers. So before the model is
loaded into a long-lived process, a short child process loads it and reads a prompt of a
few hundred tokens. If the child dies by a signal, the user gets one line that names the
cause and the command that rebuilds the library. A check that passed is remembered (keyed
by the library's files, the model file and the CPU), so a normal start costs a stat or two.

``python -m rag.llm MODEL.gguf`` is the child.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

from rag.config import default_cache_dir
from rag.errors import ModelError

logger = logging.getLogger(__name__)

REBUILD = "make rebuild-llama"  # scripts/install_llama.py --force, in the project's .venv
TIMEOUT_S = 600.0  # loading and reading ~300 tokens takes ~10 s on 2 cores


def ensure_model_runs(model_path: Path) -> None:
    """Raise ``ModelError`` (one line) unless a child process can run the model."""
    stamp = _stamp_path(model_path)
    if stamp.exists():
        return
    logger.info("checking that the model runs on this CPU (once per build): %s", model_path)
    try:
        done = subprocess.run(
            child_command(model_path), capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired as ex:
        raise ModelError(
            f"The model library did not finish reading a test prompt in {TIMEOUT_S:.0f} s "
            f"(model {model_path}); rebuild it for this machine with `{REBUILD}`."
        ) from ex
    if done.returncode < 0:
        raise ModelError(crash_message(-done.returncode))
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"The model could not read a test prompt ({model_path}): {last}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"model": str(model_path), "output": done.stdout.strip()}))


def child_command(model_path: Path) -> list[str]:
    """The child process that loads the model and reads a test prompt."""
    return [sys.executable, "-m", "rag.llm", str(model_path)]


def crash_message(signum: int) -> str:
    """The one line shown when the model library killed its process with ``signum``."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    cause = {
        "SIGILL": "it was compiled with CPU instructions this machine cannot execute (often "
        "AMX on a virtual machine that advertises it)",
        "SIGSEGV": "it read memory it does not own (a broken build or model file)",
        "SIGBUS": "the model file changed or vanished while it was mapped",
    }.get(name, "it crashed in native code")
    return (
        f"The model library (llama-cpp-python) died with {name} while reading a test prompt: "
        f"{cause}. Rebuild it for this machine with `{REBUILD}`."
    )


def _stamp_path(model_path: Path) -> Path:
    """Where a passed check is remembered: keyed by library files, model file and CPU."""
    parts = [sys.executable, _file_key(model_path), _cpu_flags()]
    parts += [_file_key(lib) for lib in _library_files()]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
    return default_cache_dir() / "checks" / f"llama-runs-{key}.json"


def _library_files() -> list[Path]:
    """The native libraries of the installed llama_cpp package (found without importing it)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return sorted(lib.glob("lib*.so*")) if lib.is_dir() else []


def _file_key(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return ""
