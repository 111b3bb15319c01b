"""What ``CI=true`` changes: nothing is skipped for want of a browser.

On a developer's machine the browser tests are skipped, with the reason, when Chromium or
Playwright is missing; in CI (``.ci/run`` exports ``CI=true``) they run, and a missing browser
fails them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import relkit


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(relkit, "CHROMIUM", tmp_path / "no-chromium")


def test_without_chromium_the_browser_tests_are_skipped_locally(monkeypatch, no_chromium):
    monkeypatch.delenv("CI", raising=False)
    browser, skip = relkit.browser_marks()
    assert browser.name == "browser" and skip.name == "skipif"
    assert skip.args == (True,) and "ensure-chromium.sh" in skip.kwargs["reason"]


@pytest.mark.parametrize("value", ["true", "1"])
def test_without_chromium_the_browser_tests_fail_in_ci(monkeypatch, no_chromium, value):
    monkeypatch.setenv("CI", value)
    _, skip = relkit.browser_marks()
    assert skip.args == (False,)  # not skipped ...
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        with relkit.chromium():  # ... but failed, with the reason
            pass


def test_without_playwright_a_browser_module_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # not installed
    with pytest.raises(ImportError):
        relkit.playwright_api()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        relkit.playwright_api()


ROOT = Path(__file__).resolve().parent.parent
_CONFLICT = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_tracked_file_holds_a_merge_conflict() -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    conflicted = []
    for name in filter(None, files):
        path = ROOT / name.decode()
        if path.is_file() and _CONFLICT.search(path.read_bytes().decode("utf-8", "replace")):
            conflicted.append(name.decode())
    assert conflicted == []


def test_the_makefile_parses() -> None:
    for target in ("run", "test", "bench"):
        done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
