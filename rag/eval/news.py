"""Precision and recall of the disagreement detector on a labelled set of article pairs.

The set (tests/data/disagreements/pairs.jsonl, format in docs/news.md) holds pairs of short
articles labelled ``conflict`` or ``update`` (they disagree: the detector must find the pair
of sentences named in ``expect``) or ``none`` (look-alikes that must not be reported).
Items are split into a ``tuning`` half (thresholds were chosen on it) and a ``check`` half.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rag import disagree
from rag.config import NewsSettings
from rag.types import Encoder


@dataclass(frozen=True)
class PairItem:
    """One labelled pair of articles."""

    id: str
    split: str
    label: str  # "conflict" | "update" | "none"
    kind: str | None
    a: dict[str, Any]  # {title, published, text}
    b: dict[str, Any]
    expect: tuple[str, str] | None = None  # a phrase of each disagreeing sentence

    @property
    def positive(self) -> bool:
        """Whether the two articles disagree."""
        return self.label != "none"


@dataclass
class DetectorScore:
    """Counts over items: a hit must name the expected pair of sentences."""

    items: int = 0
    positives: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    updates_right: int = 0  # found positives whose update/conflict call matches the label
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """True positives over all reported; 1.0 when nothing was reported."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """True positives over the items that disagree."""
        return self.tp / self.positives if self.positives else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and rates."""
        return {
            "items": self.items,
            "positives": self.positives,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "update_label_right": self.updates_right,
            "errors": self.errors,
        }


def load_pairs(path: str | Path) -> list[PairItem]:
    """Read the labelled pairs (JSON lines)."""
    items = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            expect = (row["expect"][0], row["expect"][1]) if row.get("expect") else None
            item = PairItem(
                row["id"], row["split"], row["label"], row.get("kind"), row["a"], row["b"], expect
            )
            items.append(item)
    return items


def score_pairs(
    items: Sequence[PairItem], encode: Encoder, settings: NewsSettings
) -> dict[str, DetectorScore]:
    """Scores per split and over ``all`` items."""
    scores: dict[str, DetectorScore] = {}
    for item in items:
        found = disagree.find(_statements(item), encode, settings)
        for key in (item.split, "all"):
            score = scores.setdefault(key, DetectorScore())
            score.items += 1
            score.positives += item.positive
            right = [d for d in found if _matches(d.older.quote, d.newer.quote, item.expect)]
            if item.positive and right:
                score.tp += 1
                score.updates_right += right[0].update == (item.label == "update")
            elif item.positive:
                score.fn += 1
                if key == "all":
                    score.errors.append(f"missed {item.id}")
            wrong = [d for d in found if d not in right]
            if wrong:
                score.fp += 1
                if key == "all":
                    d = wrong[0]
                    score.errors.append(f"false {item.id}: {d.older.value!r} vs {d.newer.value!r}")
    return scores


SPLITS = ("tuning", "check", "holdout", "all")


def text_summary(scores: dict[str, DetectorScore], source: str = "") -> str:
    """One line per split (counts, precision, recall), then the misses and false reports."""
    lines = [f"disagreement detector{' on ' + source if source else ''}"]
    for split in [s for s in SPLITS if s in scores] + sorted(set(scores) - set(SPLITS)):
        s = scores[split]
        lines.append(
            f"  {split:8} items={s.items:3} positives={s.positives:3} tp={s.tp:3} fp={s.fp:3} "
            f"fn={s.fn:3} precision={s.precision:.3f} recall={s.recall:.3f}"
        )
    if "all" in scores and scores["all"].errors:
        lines.append("  " + "; ".join(scores["all"].errors))
    return "\n".join(lines)


def _statements(item: PairItem) -> list[disagree.Statement]:
    out = []
    for doc_id, art in (("a", item.a), ("b", item.b)):
        published = date.fromisoformat(art["published"]) if art.get("published") else None
        out += disagree.statements(doc_id, art["title"], published, art["text"])
    return out


def _matches(x: str, y: str, expect: tuple[str, str] | None) -> bool:
    if expect is None:
        return False
    p, q = expect
    return (p in x and q in y) or (p in y and q in x)
