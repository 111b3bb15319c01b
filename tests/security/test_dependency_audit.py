"""Issue 7, item 12: the pinned gradio, chromadb and langchain packages have no known,
unexplained vulnerabilities (offline check; ``make lint`` also runs pip-audit)."""

from __future__ import annotations

import re
from pathlib import Path

from dep_audit import advisories, affects, installed, main, offline_findings

RAG = Path(__file__).resolve().parent.parent.parent / "rag"


def test_installed_pins_have_no_unexplained_advisories():
    versions = installed()
    assert {"gradio", "chromadb", "langchain-core"} <= set(versions)
    bad = [f for f in offline_findings(versions) if not f.ignored]
    assert bad == []
    assert main(["--offline"]) == 0


def test_a_vulnerable_version_is_caught():
    found = offline_findings({"langchain-core": "1.2.4", "gradio": "6.6.0"})
    assert {f.id for f in found} == {
        "GHSA-c67j-w6g6-q2cm", "GHSA-39mp-8hj3-5c49", "GHSA-j36p-7w88-g82j"}  # fmt: skip
    assert all(f.ignored is None for f in found)


def test_version_ranges():
    assert affects("<0.3.81 || >=1.0.0,<1.2.5", "0.3.80")
    assert affects("<0.3.81 || >=1.0.0,<1.2.5", "1.2.4")
    assert not affects("<0.3.81 || >=1.0.0,<1.2.5", "0.3.81")
    assert not affects("<0.3.81 || >=1.0.0,<1.2.5", "1.8.3")
    assert affects(">=1.0.0,<=1.5.9", "1.5.9")


def test_ignored_advisories_are_server_only_and_newsqa_runs_no_chroma_server():
    """The unpatched Chroma advisories are in its HTTP server, which newsqa never runs.

    Server mode is a client (``HttpClient``) of a server the operator runs, so the README
    must tell them about those advisories where it shows how to start one.
    """
    ignored = [a for a in advisories() if a.get("ignore")]
    assert ignored and all(a["package"] == "chromadb" for a in ignored)
    assert all("server-only" in a["ignore"] for a in ignored)
    server = re.compile(  # imports the server, or starts `chroma run` as a subprocess
        r"chromadb\.(server|app)|\[\s*['\"]chroma['\"]\s*,\s*['\"]run|trust_remote_code"
    )
    for source in RAG.rglob("*.py"):
        assert not server.search(source.read_text(encoding="utf-8")), source
    readme = (RAG.parent / "README.md").read_text(encoding="utf-8")
    scaling = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    for advisory in ignored:
        assert advisory["id"] in scaling, advisory["id"]
