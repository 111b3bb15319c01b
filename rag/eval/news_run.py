"""``evaluate_news``: every item of the news gold file through the real ``Assistant`` methods.

Timeline items call ``Assistant.timeline`` (no model call), freshness items
``Assistant.ask`` (one answer each), changes items ``Assistant.changes`` (two answers).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from rag.assistant import Assistant
from rag.errors import EmptyStoreError
from rag.eval.news_gold import (
    ChangesItem,
    NewsItem,
    TimelineItem,
    load_news_gold,
    resolve,
    select,
)
from rag.eval.news_score import (
    Judgement,
    NewsScore,
    judge_changes,
    judge_freshness,
    judge_timeline,
    score,
)
from rag.eval.run import ingest_fresh

logger = logging.getLogger(__name__)


def evaluate_news(
    assistant: Assistant,
    items: Sequence[NewsItem],
    corpus: str | Path | None = None,
    progress: bool = False,
) -> tuple[dict[str, NewsScore], list[Judgement]]:
    """Run and judge ``items``; scores per split and over ``all``, and each judgement.

    ``corpus`` (a folder, file or corpus.jsonl) is ingested into a temporary store that is
    deleted afterwards; without it the assistant's own store is used.

    Example:
        >>> from rag.eval.news_gold import load_news_gold
        >>> scores, _ = evaluate_news(Assistant.from_config(),
        ...     load_news_gold("tests/data/news_gold.jsonl"), corpus="tests/data/stories")
        >>> scores["all"].timeline.order_accuracy
        1.0
    """
    if corpus is None:
        return _evaluate(assistant, items, progress)
    with tempfile.TemporaryDirectory(prefix="rag-eval-news-") as tmp:
        fresh, info = ingest_fresh(assistant, Path(corpus), Path(tmp) / "store", progress)
        logger.info("corpus: %s articles, %s chunks", info["articles"], info["chunks"])
        try:
            return _evaluate(fresh, items, progress)
        finally:
            fresh.store.close()


def evaluate_news_file(
    assistant: Assistant,
    gold: str | Path,
    corpus: str | Path | None = None,
    kinds: Sequence[str] | None = None,
    progress: bool = False,
) -> tuple[dict[str, NewsScore], list[Judgement]]:
    """``evaluate_news`` on the items of ``kinds`` (default: all) in the gold file ``gold``.

    What ``rag eval news`` and ``bench/news_eval.py`` run.
    """
    items = select(load_news_gold(gold), kinds)
    return evaluate_news(assistant, items, corpus, progress)


def judge(assistant: Assistant, item: NewsItem) -> Judgement:
    """Run one (resolved) item through the assistant and judge what came back."""
    if isinstance(item, TimelineItem):
        found = assistant.timeline(
            item.topic, since=item.since, until=item.until, today=item.today, limit=item.limit
        )
        texts = {}
        for doc_id in {e.doc_id for e in found.events}:
            stored = assistant.article(doc_id)
            texts[doc_id] = stored.text if stored else ""
        return judge_timeline(item, found, texts)
    if isinstance(item, ChangesItem):
        return judge_changes(item, assistant.changes(item.question, item.since, today=item.today))
    return judge_freshness(item, assistant.ask(item.question, today=item.today))


def _evaluate(
    assistant: Assistant, items: Sequence[NewsItem], progress: bool
) -> tuple[dict[str, NewsScore], list[Judgement]]:
    if assistant.store.count() == 0:
        raise EmptyStoreError()
    resolved = resolve(items, assistant.list_articles())
    judgements = []
    for item in tqdm(resolved, desc="eval news", unit="item", disable=not progress):
        judgements.append(judge(assistant, item))
        logger.info("%s: %s", item.id, "; ".join(judgements[-1].errors) or "right")
    return score(judgements), judgements
