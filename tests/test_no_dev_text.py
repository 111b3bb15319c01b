"""No text of the development set is copied into the repository.

The dev set (``../shared/eval/dev``, or ``$NEWSQA_DEV_SET``: ``questions.jsonl`` and
``corpus.jsonl``) has no licence: the project may read it and run against it, never copy it.
This test fails when 8 consecutive words of one of its questions, answers, headlines or
article texts appear in any file ``git ls-files`` lists (binary files skipped). Fixtures are
written for the project instead: the same linguistic case, other facts.

Without the dev set next to the project the test is skipped, with the reason. That holds
under ``CI=true`` too: a CI machine may not have the dev set (it cannot be redistributed),
so there the check does not run; it runs wherever the dev set is, as in every ``make test``
on a development machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("NEWSQA_DEV_SET") or ROOT.parent / "shared" / "eval" / "dev")
WORDS = 8
_WORD = re.compile(r"[a-z0-9]+")
# JSON and Python string escapes ("\n", "\u2019") would glue letters to the next word.
_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|[nrtbf"\\/])')


def _plain(text: str) -> str:
    """Lowercase, escapes blanked (same length, so line numbers still count)."""
    return _ESCAPE.sub(lambda m: " " * len(m.group()), text).lower()


def _words(text: str) -> list[str]:
    return _WORD.findall(_plain(text))


def _dev_texts() -> Iterator[tuple[str, str]]:
    """(id, text) of every question, answer, headline and article text of the dev set."""
    for line in (DEV / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            texts = [q.get("question"), q.get("evidence_passage")]
            texts += [*(q.get("answers") or []), *(q.get("choices") or [])]
            for text in texts:
                if isinstance(text, str):
                    yield q.get("id", "?"), text
    for line in (DEV / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            yield doc.get("doc_id", "?"), f"{doc.get('title') or ''}\n{doc.get('text') or ''}"


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True, timeout=60).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as ex:
        pytest.skip(f"no git checkout to list tracked files from ({ex})")
    return [ROOT / name for name in out.decode().split("\0") if name]


@pytest.mark.skipif(
    not (DEV / "questions.jsonl").exists() or not (DEV / "corpus.jsonl").exists(),
    reason=f"the dev set is not at {DEV} (set $NEWSQA_DEV_SET): nothing to compare with",
)
def test_no_tracked_file_contains_dev_set_text():
    shingles: dict[str, str] = {}
    for source, text in _dev_texts():
        words = _words(text)
        for i in range(len(words) - WORDS + 1):
            shingles.setdefault(" ".join(words[i : i + WORDS]), source)

    found = []
    for path in _tracked_files():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (images, PDFs)
        text = _plain(data.decode("utf-8", errors="replace"))
        words = list(_WORD.finditer(text))
        for i in range(len(words) - WORDS + 1):
            run = " ".join(m.group() for m in words[i : i + WORDS])
            if run in shingles:
                line = text.count("\n", 0, words[i].start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {run!r} ({shingles[run]})")
                break  # one hit a file is enough to point at it

    assert not found, "dev-set text (no licence) in tracked files:\n" + "\n".join(found)
