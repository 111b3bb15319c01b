"""``import rag`` is light: no UI, vector store, torch or llama.cpp until they are needed."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from pytest_socket import SocketBlockedError

import rag

HEAVY = ["gradio", "chromadb", "torch", "llama_cpp", "sentence_transformers", "trafilatura"]


def imported_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return out.stdout.split()


@pytest.mark.parametrize("statement", ["import rag", "import rag.cli", "from rag import Assistant"])
def test_import_does_not_load_heavy_dependencies(statement):
    assert imported_after(statement) == []


def test_public_api():
    for name in rag.__all__:
        assert getattr(rag, name) is not None, name
    assert {"Assistant", "Answer", "Citation", "Settings", "RagError"} <= set(rag.__all__)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_unit_tests_run_offline():
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()  # Chroma/SQLite may use these


@pytest.mark.enable_socket
def test_a_test_can_opt_in_to_sockets():
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
