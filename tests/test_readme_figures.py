"""The figures in README.md and docs/ are the ones bench/results/*.json hold (no models).

``python bench/readme.py`` renders every ``<!-- figures:NAME -->`` block from the result
files; this test fails when a block differs from what the files say (a figure typed by
hand, or a result file rewritten without re-rendering).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from bench_scripts import bench_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def readme():
    return bench_module("readme")


def test_figure_blocks_match_the_result_files(readme, capsys):
    status = readme.main(["--check"])
    out = capsys.readouterr()
    assert status == 0, out.err + "\nRun: python bench/readme.py"
    for name, script in readme.SCRIPTS.items():
        if not (readme.RESULTS / f"{name}.json").exists():
            # Not a failure: the block says "not measured yet" until the script is run.
            warnings.warn(
                f"bench/results/{name}.json does not exist: README and docs say "
                f"'not measured yet' for it (python {script} writes it)",
                stacklevel=1,
            )


def test_every_block_is_used_and_every_document_has_one(readme):
    used = set()
    for doc in readme.documents():
        used |= set(readme._OPEN.findall(doc.read_text(encoding="utf-8")))
    assert used == set(readme.BLOCKS)


def test_a_missing_result_file_renders_as_not_measured_yet(readme, tmp_path):
    res = readme.Results(tmp_path)
    for name, block in readme.BLOCKS.items():
        text = block(res, lambda f: f)
        assert "Not measured yet" in text or "not measured yet" in text, name


def test_a_stale_figure_fails_the_check(readme, tmp_path):
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    assert readme.main(["--check", "--root", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- figures:performance -->\n") + len("<!-- figures:performance -->\n")
    (tmp_path / "README.md").write_text(text[:start] + "| typed | 0.99 |\n" + text[start:])
    assert readme.main(["--check", "--root", str(tmp_path)]) == 1
    assert readme.main(["--root", str(tmp_path)]) == 0  # rewritten
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == text


def _quality_file(folder: Path) -> None:
    def figures(n: int, contains: float, refused: int) -> dict:
        return {
            "n": n,
            "n_answerable": n - 1,
            "n_unanswerable": 1,
            "hit@4": 0.95,
            "contains_gold": contains,
            "normalized_match": contains + 0.05,
            "evidence_in_context": 0.7,
            "all_citations_gold": 0.933,
            "n_cited_answers": 15,
            "abstention_unanswerable": 1.0,
            "refused_unanswerable": 1,
            "false_abstention": refused / (n - 1),
            "refused_answerable": refused,
            "ttft_p50_s": 2.5,
            "latency_p50_s": 4.0,
        }

    halves = {
        "tuning": figures(10, 0.7, 0),
        "check": figures(10, 0.5, 1),
        "all": figures(20, 0.6, 1),
    }
    targets = {
        "hit@4": {"metric": "hit@4", "op": ">=", "value": 0.9, "what": "", "note": ""},
        "contains_gold": {
            "metric": "contains_gold",
            "op": ">=",
            "value": 0.6,
            "what": "",
            "note": "held-out 0.62",
        },
        "all_citations_gold": {
            "metric": "all_citations_gold",
            "op": ">=",
            "value": 0.95,
            "what": "",
            "note": "",
        },
    }
    checks = {
        h: {
            "hit@4": {"measured": 0.95, "met": True},
            "contains_gold": {"measured": f["contains_gold"], "met": f["contains_gold"] >= 0.6},
            "all_citations_gold": {"measured": 0.933, "met": False},
        }
        for h, f in halves.items()
    }
    data = {
        "benchmark": "quality",
        "created": "2030-01-02T03:04:05+00:00",
        "commit": "abc123",
        "command": "python bench/quality.py",
        "machine": {
            "cpu_model": "Test CPU",
            "physical_cores": 2,
            "ram_gb": 8.0,
            "load_average": [0.5, 0.5, 0.5],
        },
        "config": {"arms": {"ours": {"file": "configs/default.toml"}, "naive": {}}},
        "results": {
            "questions": 20,
            "partial": False,
            "targets": targets,
            "halves": {"split_date": "2024-01-01", "gold_set": {"tuning": 10, "check": 10}},
            "arms": {
                "ours": {"figures": halves, "by_type": {}},
                "naive": {"figures": halves, "by_type": {}},
            },
            "ttft_ratio": {"ours": {"tuning": 0.25, "check": 0.35, "all": 0.3}},
            "checks": {"ours": checks, "naive": checks},
        },
    }
    (folder / "quality.json").write_text(json.dumps(data))


def test_quality_table_shows_each_target_met_or_missed_with_provenance(readme, tmp_path):
    _quality_file(tmp_path)
    text = readme.quality(readme.Results(tmp_path), lambda f: f)
    row = next(line for line in text.splitlines() if line.startswith("| cited answers"))
    assert "0.933 (of 15) ✘" in row  # a missed target is shown as missed
    row = next(line for line in text.splitlines() if "(strict)" in line)
    assert "0.700 ✔" in row and "0.500 ✘" in row and "held-out 0.62" in row
    assert "`python bench/quality.py`, 2030-01-02, commit abc123, Test CPU, 2 cores" in text
    assert "ours, tuning (10)" in text and "naive, check" in text


def test_an_old_quality_file_without_arms_is_not_measured(readme, tmp_path):
    (tmp_path / "quality.json").write_text(json.dumps({"run": "runs/x", "figures": {}}))
    assert "Not measured yet" in readme.quality(readme.Results(tmp_path), lambda f: f)


def test_rules_table_shows_each_arm_by_half_and_the_verdict(readme, tmp_path):
    def half(right: int) -> dict:
        return {
            "n": 10,
            "right": right,
            "contains_gold": 0.5,
            "normalized_match": 0.6,
            "false_abstention": 0.1,
            "abstention_unanswerable": 0.9,
            "all_citations_gold": None,
        }

    rule = {
        "verdict": "drop",
        "replace_with": "off",
        "arms": {
            "now": {"halves": {"tuning": half(6), "check": half(5)}},
            "off": {"halves": {"tuning": half(7), "check": half(5)}},
        },
    }
    data = {
        "benchmark": "rules",
        "created": "2030-01-02T03:04:05+00:00",
        "commit": "abc123",
        "command": "python bench/rules.py",
        "machine": {"cpu_model": "Test CPU", "physical_cores": 2},
        "config": {},
        "results": {
            "partial": False,
            "halves": {"tuning": 10, "check": 10},
            "judged_by": "more questions right",
            "rules": {"subject_check": rule},
        },
    }
    (tmp_path / "rules.json").write_text(json.dumps(data))
    text = readme.rules(readme.Results(tmp_path), lambda f: f)
    now = next(line for line in text.splitlines() if line.startswith("| `subject_check`"))
    assert "| 6 | 0.50 / 0.60 | 0.10 | 0.90 | – |" in now and "**drop** (→ off)" in now
    assert "tuning (10): right" in text and "`python bench/rules.py`, 2030-01-02" in text
