"""Install llama-cpp-python built for this CPU, minus AMX, from a wheel keyed by its build.

llama-cpp-python ships as a source distribution that pip compiles on the user's machine
with ``-march=native``. On Intel Xeon VMs that advertise AMX (``amx_tile`` in
/proc/cpuinfo) without really supporting it, the AMX code that a native build compiles in
dies with SIGILL on the first prompt of more than a few tokens. So the build keeps every
other native instruction set (AVX2, AVX-512, VNNI: llama.cpp's repacked CPU buffers stay
on) and turns AMX off.

pip caches a built wheel by the sdist, not by ``CMAKE_ARGS``, so a machine whose pip cache
holds an older native build would silently reuse it. This script never lets pip choose:
it builds the wheel itself (``--no-cache-dir``) into a folder keyed by the version, the
flags and the CPU's instruction sets, installs exactly that file, and records what it
installed in ``<venv>/newsqa-llama-build.json`` (the build marker that ``rag`` and the
tests read). Run by ``make`` before the project is installed; a second run with an
unchanged key does nothing.

    python scripts/install_llama.py            # install (build once per key)
    python scripts/install_llama.py --force    # rebuild even if the key is cached
    python scripts/install_llama.py --key      # print the key and exit
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

VERSION = "0.3.36"
# Native, but no AMX: explicit -mno-* options win over -march=native whatever their order.
SAFE_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_ARGS = f"-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='{SAFE_FLAGS}' -DCMAKE_CXX_FLAGS='{SAFE_FLAGS}'"
MARKER = Path(sys.prefix) / "newsqa-llama-build.json"
# Instructions of Intel AMX: none may be in the installed CPU library.
AMX_MNEMONICS = ("ldtilecfg", "sttilecfg", "tileloadd", "tilestored", "tilezero", "tdpb")


def cpu_flags() -> list[str]:
    """The instruction-set flags of this CPU (a native build is only valid on the same set)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return sorted(set(line.partition(":")[2].split()))
    except OSError:
        pass
    return [platform.processor() or platform.machine()]


def build_key() -> str:
    """What the wheel depends on: version, flags, CPU instruction sets, Python and platform."""
    recipe = {
        "version": VERSION,
        "cmake_args": CMAKE_ARGS,
        "cpu_flags": cpu_flags(),
        "python": sys.implementation.cache_tag,
        "machine": platform.machine(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def wheel_dir(key: str) -> Path:
    """Where the wheel for ``key`` is kept: the same cache folder as the assembled LLM."""
    cache = os.environ.get("NEWSQA_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "newsqa"
    )
    return Path(cache) / "wheels" / f"llama-cpp-python-{VERSION}-{key}"


def installed_marker() -> dict | None:
    """The build marker of this environment, if the installed library still matches it."""
    try:
        marker = json.loads(MARKER.read_text())
    except (OSError, ValueError):
        return None
    libs = _installed_libs()
    if {name: _sha256(path) for name, path in libs.items()} != marker.get("libs"):
        return None  # reinstalled or replaced since: the marker no longer describes it
    return marker


def amx_instructions(library: Path) -> int:
    """How many AMX instructions the disassembly of ``library`` holds (0 when objdump is absent)."""
    if not shutil.which("objdump"):
        return 0
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if any(m in line for m in AMX_MNEMONICS))


def main() -> int:
    """Install the keyed build unless it is already the installed one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--key", action="store_true", help="print the build key and exit")
    args = parser.parse_args()
    key = build_key()
    if args.key:
        print(key)
        return 0
    marker = installed_marker()
    if marker and marker.get("key") == key and not args.force:
        return 0
    folder = wheel_dir(key)
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if args.force or not wheels:
        wheels = [_build(folder)]
    wheel = wheels[-1]
    _check_wheel(wheel)
    print(f"installing {wheel}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
         "--no-index", str(wheel)],
        check=True,
    )  # fmt: skip
    # Its Python dependencies (numpy, jinja2, diskcache, typing-extensions) come with the
    # project's own install, from pyproject.toml.
    libs = {name: _sha256(path) for name, path in _installed_libs().items()}
    MARKER.write_text(
        json.dumps(
            {
                "key": key,
                "version": VERSION,
                "cmake_args": CMAKE_ARGS,
                "wheel": str(wheel),
                "wheel_sha256": _sha256(wheel),
                "libs": libs,
                "cpu_flags_sha256": hashlib.sha256(" ".join(cpu_flags()).encode()).hexdigest(),
            },
            indent=2,
        )
    )
    print(f"llama-cpp-python {VERSION} installed, build key {key} ({MARKER})", file=sys.stderr)
    return 0


def _build(folder: Path) -> Path:
    """Compile the sdist with the safe flags into ``folder``; never through pip's cache."""
    print(
        f"building llama-cpp-python {VERSION} for this CPU without AMX (once per machine, "
        f"~10 min on 2 cores)\n  CMAKE_ARGS={CMAKE_ARGS}",
        file=sys.stderr,
    )
    env = dict(os.environ, CMAKE_ARGS=CMAKE_ARGS, FORCE_CMAKE="1")
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
             "--no-binary", "llama-cpp-python", f"llama-cpp-python=={VERSION}", "-w", tmp],
            check=True,
            env=env,
        )  # fmt: skip
        (built,) = Path(tmp).glob("llama_cpp_python-*.whl")
        _check_wheel(built)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "build.json").write_text(
            json.dumps({"version": VERSION, "cmake_args": CMAKE_ARGS, "cpu_flags": cpu_flags()})
        )
        target = folder / built.name
        shutil.move(built, target)
    return target


def _check_wheel(wheel: Path) -> None:
    """Refuse a wheel whose CPU library holds AMX instructions."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if Path(name).name.startswith("libggml") and ".so" in name:
                path = Path(zf.extract(name, tmp))
                if found := amx_instructions(path):
                    sys.exit(f"{wheel.name}: {Path(name).name} holds {found} AMX instructions")


def _installed_libs() -> dict[str, Path]:
    """The native libraries of the installed ``llama_cpp`` package, by file name."""
    lib = Path(sysconfig.get_paths()["platlib"]) / "llama_cpp" / "lib"
    return {p.name: p for p in sorted(lib.glob("lib*.so*"))} if lib.is_dir() else {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
