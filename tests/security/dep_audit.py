"""Audit the pinned gradio, chromadb and langchain packages for known vulnerabilities.

    python tests/security/dep_audit.py [--offline]      (``make lint`` runs it)

1. ``pip-audit`` checks the installed versions against PyPI's advisory data (network).
2. Whatever pip-audit could not check (no network, or an index that does not serve PyPI's
   per-version JSON, as on the project's machines) is checked offline against
   ``advisories.json`` beside this file: known GHSA advisories, curated when pins change.

Advisories with an ``ignore`` reason (server-only Chroma issues with no patched release) are
reported but do not fail. Exit status 1 when any other advisory matches.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

PACKAGES = [
    "gradio", "gradio-client", "chromadb", "langchain-core", "langchain-chroma",
    "langchain-huggingface", "langchain-text-splitters", "langchain-openai",
]  # fmt: skip
ADVISORIES = Path(__file__).with_name("advisories.json")


@dataclass(frozen=True)
class Finding:
    """One advisory that applies to an installed package."""

    package: str
    version: str
    id: str
    summary: str
    ignored: str | None = None  # why it does not apply to newsqa


def installed(packages: list[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of the audited packages (those not installed are left out)."""
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def advisories(path: Path = ADVISORIES) -> list[dict]:
    """The curated advisories."""
    return json.loads(path.read_text(encoding="utf-8"))["advisories"]


def affects(vulnerable: str, version: str) -> bool:
    """Whether ``version`` is in a range like ``"<0.3.81 || >=1.0.0,<1.2.5"``."""
    return any(Version(version) in SpecifierSet(part.strip()) for part in vulnerable.split("||"))


def offline_findings(versions: dict[str, str], known: list[dict] | None = None) -> list[Finding]:
    """Advisories from ``advisories.json`` that match the installed versions."""
    return [
        Finding(a["package"], versions[a["package"]], a["id"], a["summary"], a.get("ignore"))
        for a in (known if known is not None else advisories())
        if a["package"] in versions and affects(a["vulnerable"], versions[a["package"]])
    ]


def pip_audit(versions: dict[str, str], ignored: set[str]) -> tuple[list[Finding], set[str]]:
    """Findings of pip-audit (PyPI service), and the packages it could not audit."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("".join(f"{name}=={version}\n" for name, version in versions.items()))
    cmd = [sys.executable, "-m", "pip_audit", "-r", req.name, "--no-deps", "--disable-pip",
           "--format", "json", "--progress-spinner", "off", "--timeout", "30"]  # fmt: skip
    for vuln in sorted(ignored):
        cmd += ["--ignore-vuln", vuln]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        report = json.loads(proc.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as ex:
        _say(f"pip-audit did not run ({type(ex).__name__}): checking offline")
        return [], set(versions)
    finally:
        Path(req.name).unlink(missing_ok=True)
    if "dependencies" not in report:
        _say(f"pip-audit failed: {proc.stderr.strip().splitlines()[-1:]}; checking offline")
        return [], set(versions)
    findings, unchecked = [], set()
    for dep in report["dependencies"]:
        if dep.get("skip_reason"):
            unchecked.add(dep["name"])
            continue
        for vuln in dep.get("vulns", []):
            summary = vuln.get("description", "")[:100] or ", ".join(vuln.get("aliases", []))
            findings.append(Finding(dep["name"], dep["version"], vuln["id"], summary))
    return findings, unchecked


def main(argv: list[str] | None = None) -> int:
    """Run the audit; 0 when nothing but ignored advisories apply."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="Skip pip-audit (no network).")
    args = parser.parse_args(argv)
    versions = installed()
    known = advisories()
    ignored = {a["id"] for a in known if a.get("ignore")} | {
        alias for a in known if a.get("ignore") for alias in a.get("aliases", [])
    }
    findings: list[Finding] = []
    unchecked = set(versions)
    if not args.offline:
        findings, unchecked = pip_audit(versions, ignored)
        if unchecked:
            _say(f"pip-audit could not audit {', '.join(sorted(unchecked))} (the index does not "
                 "serve PyPI's vulnerability data): checking them offline")  # fmt: skip
    findings += offline_findings({n: v for n, v in versions.items() if n in unchecked}, known)
    audited = ", ".join(f"{n}=={v}" for n, v in versions.items())
    _say(f"audited: {audited}")
    for f in findings:
        status = f"ignored ({f.ignored})" if f.ignored else "VULNERABLE"
        _say(f"{f.package}=={f.version}: {f.id} {f.summary} -> {status}")
    bad = [f for f in findings if not f.ignored]
    _say(f"{len(bad)} vulnerable, {len(findings) - len(bad)} ignored")
    return 1 if bad else 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
