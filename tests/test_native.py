"""The model library is built to run on every x86-64 CPU, and a native crash is one clear line.

* The installed llama-cpp-python is the wheel ``scripts/install_llama.py`` built (its build
  marker matches the installed files) with AMX turned off, and holds no AMX instruction.
* ``rag.probe`` runs the model in a child process first: a child killed by SIGILL becomes
  one ``ModelError`` line naming the cause and the rebuild command, in the library, in
  ``rag ask`` and in ``rag serve`` (which then never starts).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import llm, probe
from rag.cli import cli
from rag.config import LLMSettings
from rag.errors import ModelError

ROOT = Path(__file__).resolve().parent.parent
SIGILL_CHILD = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]


def _install_script():
    spec = importlib.util.spec_from_file_location(
        "install_llama", ROOT / "scripts" / "install_llama.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NEWSQA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_model(tmp_path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF not really")
    return path


# ---- the build ------------------------------------------------------------------------------


def test_installed_library_is_the_marked_build_without_amx():
    script = _install_script()
    marker = script.installed_marker()
    assert marker is not None, (
        f"no valid build marker at {script.MARKER}: llama-cpp-python was not installed by "
        "scripts/install_llama.py (run `make rebuild-llama`)"
    )
    assert marker["key"] == script.build_key(), "built for another CPU, version or flags"
    for flag in ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16"):
        assert flag in marker["cmake_args"]
    assert "-DGGML_NATIVE=ON" in marker["cmake_args"]  # the speed of a native build elsewhere
    libs = script._installed_libs()
    cpu = [path for name, path in libs.items() if name.startswith("libggml-cpu")]
    assert cpu, f"no CPU backend among {sorted(libs)}"
    if os.environ.get("CI") or shutil.which("objdump"):
        assert shutil.which("objdump"), "objdump (binutils) is needed to inspect the library"
        for path in cpu:
            assert script.amx_instructions(path) == 0, f"{path} holds AMX instructions"


def test_llama_cpp_reports_no_amx_and_keeps_avx():
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AMX_INT8 = 1" not in info, info
    flags = _install_script().cpu_flags()
    if "avx2" in flags:  # the native instruction sets stay on
        assert "AVX2 = 1" in info, info


def test_pinned_version_is_the_one_the_script_builds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if d.startswith("llama-cpp-python")]
    assert pins == [f"llama-cpp-python=={_install_script().VERSION}"]


def test_marker_no_longer_matches_a_replaced_library(tmp_path, monkeypatch):
    """Another build installed over ours (say, pip reusing a cached native wheel) is noticed."""
    script = _install_script()
    lib = tmp_path / "libggml-cpu.so"
    lib.write_bytes(b"our build")
    monkeypatch.setattr(script, "MARKER", tmp_path / "newsqa-llama-build.json")
    monkeypatch.setattr(script, "_installed_libs", lambda: {lib.name: lib})
    assert script.installed_marker() is None  # no marker: install ours
    script.MARKER.write_text(json.dumps({"key": "k", "libs": {lib.name: script._sha256(lib)}}))
    assert script.installed_marker()["key"] == "k"
    lib.write_bytes(b"a native build from pip's cache")
    assert script.installed_marker() is None


def test_build_key_changes_with_flags_and_cpu(monkeypatch):
    script = _install_script()
    key = script.build_key()
    monkeypatch.setattr(script, "CMAKE_ARGS", "-DGGML_NATIVE=ON")
    assert script.build_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(script, "cpu_flags", lambda: ["sse2"])
    assert script.build_key() != key


# ---- the crash check ------------------------------------------------------------------------


def test_child_killed_by_sigill_is_one_clear_line(cache, fake_model, monkeypatch):
    monkeypatch.setattr(probe, "child_command", lambda path: SIGILL_CHILD)
    with pytest.raises(ModelError) as err:
        probe.ensure_model_runs(fake_model)
    message = str(err.value)
    assert "\n" not in message
    assert "SIGILL" in message and "CPU instructions" in message
    assert "make rebuild-llama" in message
    assert not (cache / "checks").exists() or not any((cache / "checks").iterdir())


def test_child_that_fails_reports_its_last_line(cache, fake_model, monkeypatch):
    child = [sys.executable, "-c", "import sys; sys.exit('gguf: bad magic number')"]
    monkeypatch.setattr(probe, "child_command", lambda path: child)
    with pytest.raises(ModelError, match="gguf: bad magic number"):
        probe.ensure_model_runs(fake_model)


def test_passed_check_is_cached_per_build(cache, fake_model, monkeypatch):
    runs = []

    def command(path):
        runs.append(path)
        return [sys.executable, "-c", "print('read 300 prompt tokens')"]

    monkeypatch.setattr(probe, "child_command", command)
    probe.ensure_model_runs(fake_model)
    probe.ensure_model_runs(fake_model)
    assert len(runs) == 1  # the second start costs nothing
    stamp = next((cache / "checks").iterdir())
    assert json.loads(stamp.read_text())["output"] == "read 300 prompt tokens"
    os.utime(fake_model, ns=(1, 1))  # another model file (or library build): checked again
    probe.ensure_model_runs(fake_model)
    assert len(runs) == 2


def test_loading_the_model_in_process_is_guarded(cache, fake_model, monkeypatch):
    """A crash surfaces as a ModelError in the caller: the test process itself lives on."""
    monkeypatch.setattr(probe, "child_command", lambda path: SIGILL_CHILD)
    with pytest.raises(ModelError, match="SIGILL"):
        llm.load(LLMSettings(model=str(fake_model)))


def _config(tmp_path: Path, model: Path) -> Path:
    config = tmp_path / "crash.toml"
    config.write_text(f'[llm]\nmodel = "{model}"\n')
    return config


def test_rag_ask_shows_one_line_on_a_crashing_library(
    cache, fake_model, monkeypatch, tmp_path, embedder
):
    monkeypatch.setattr(probe, "child_command", lambda path: SIGILL_CHILD)
    monkeypatch.setattr("rag.embed.load", lambda settings: embedder)
    store = tmp_path / "store"
    config = _config(tmp_path, fake_model)
    runner = CliRunner()
    seeds = ROOT / "seeds"
    args = ["--store", str(store), "--config", str(config)]
    assert runner.invoke(cli, ["ingest", str(seeds), *args]).exit_code == 0
    result = runner.invoke(cli, ["ask", "Why did Ukraine want Patriot systems?", *args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: The model library"), result.output
    assert "SIGILL" in lines[0] and "make rebuild-llama" in lines[0]


def test_rag_serve_refuses_to_start_on_a_crashing_library(cache, fake_model, monkeypatch, tmp_path):
    monkeypatch.setattr(probe, "child_command", lambda path: SIGILL_CHILD)
    started = []
    monkeypatch.setattr("ui.server.serve", lambda *a, **kw: started.append(a))
    config = _config(tmp_path, fake_model)
    result = CliRunner().invoke(
        cli, ["serve", "--store", str(tmp_path / "store"), "--config", str(config)]
    )
    assert result.exit_code == 1
    assert "SIGILL" in result.output and "make rebuild-llama" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not started
