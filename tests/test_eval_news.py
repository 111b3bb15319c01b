"""``rag eval news``: the gold file, the scoring (hand-built results), and the real pipeline
on tests/data/stories (real embedder and Chroma, scripted chat models)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fakes import QuotingChatModel

from rag.assistant import Assistant
from rag.config import Settings, StoreSettings
from rag.eval.gold import GoldSetError
from rag.eval.news_gold import (
    ChangesItem,
    FreshnessItem,
    TimelineItem,
    load_news_gold,
    resolve,
    select,
)
from rag.eval.news_run import evaluate_news, judge
from rag.eval.news_score import (
    judge_changes,
    judge_freshness,
    judge_timeline,
    score,
    text_summary,
)
from rag.types import (
    Answer,
    ArticleInfo,
    Changes,
    Citation,
    EventSource,
    FreshnessNote,
    Timeline,
    TimelineEvent,
)

DATA = Path(__file__).parent / "data"
GOLD = DATA / "news_gold.jsonl"
STORIES = DATA / "stories"

# ---- hand-built results -------------------------------------------------------------------

TEXTS = {
    "a": "The strike began on Monday. Talks failed on Friday.",
    "b": "The strike was extended on Friday. Ships waited.",
    "c": "The strike ended on Wednesday after a vote.",
}


def event(doc_id: str, sentence: str, *others: str) -> TimelineEvent:
    text = TEXTS[doc_id]
    start = text.find(sentence)
    assert start >= 0
    sources = [EventSource(d, d.upper(), None) for d in (doc_id, *others)]
    return TimelineEvent(
        None, doc_id, doc_id.upper(), sentence, start, start + len(sentence), sources
    )


BEGAN = event("a", "The strike began on Monday.")
EXTENDED = event("b", "The strike was extended on Friday.")
ENDED = event("c", "The strike ended on Wednesday after a vote.")


def timeline_item(*events: tuple[str, str], split: str = "tuning", **fields) -> TimelineItem:
    return TimelineItem(
        id=fields.pop("id", "t"),
        split=split,
        kind="timeline",
        topic="strike",
        today=date(2025, 7, 1),
        events=[{"doc": d, "phrase": p} for d, p in events],
        **fields,
    )


STRIKE = timeline_item(("a", "began"), ("b", "extended"), ("c", "ended"))


def timeline(*events: TimelineEvent) -> Timeline:
    return Timeline("strike", list(events))


def test_a_right_timeline_scores_one_everywhere():
    judged = judge_timeline(STRIKE, timeline(BEGAN, EXTENDED, ENDED), TEXTS)
    t = score([judged])["all"].timeline

    assert (t.recall, t.precision, t.order_accuracy, t.quote_exactness) == (1.0, 1.0, 1.0, 1.0)
    assert t.empty_correct is None  # no empty-topic item
    assert judged.errors == ()


def test_a_wrong_order_lowers_order_accuracy_only():
    judged = judge_timeline(STRIKE, timeline(EXTENDED, BEGAN, ENDED), TEXTS)
    t = score([judged])["all"].timeline

    assert t.recall == 1.0 and t.precision == 1.0
    assert t.order_accuracy == pytest.approx(2 / 3)  # (began, extended) is the wrong way round
    assert "events out of order" in judged.errors


def test_a_missed_event_lowers_recall_and_an_extra_one_precision():
    missed = judge_timeline(STRIKE, timeline(BEGAN, ENDED), TEXTS)
    extra = judge_timeline(timeline_item(("a", "began"), id="t2"), timeline(BEGAN, ENDED), TEXTS)

    t = score([missed, extra])["all"].timeline

    assert t.recall == pytest.approx(3 / 4)
    assert t.precision == pytest.approx(3 / 4)  # the extra "ended" of the second item
    assert any("missed 'extended'" in e for e in missed.errors)


def test_precision_leaves_out_items_that_do_not_list_every_event():
    partial = timeline_item(("a", "began"), complete=False)

    t = score([judge_timeline(partial, timeline(BEGAN, ENDED), TEXTS)])["all"].timeline

    assert t.recall == 1.0 and t.precision is None


def test_an_event_matches_through_any_of_its_sources():
    merged = event("c", "The strike ended on Wednesday after a vote.", "b")
    item = timeline_item(("b", "ended"))

    assert judge_timeline(item, timeline(merged), TEXTS).matched == 1
    assert judge_timeline(timeline_item(("b", "began")), timeline(merged), TEXTS).matched == 0


def test_an_inexact_quote_lowers_quote_exactness():
    shifted = TimelineEvent(None, "a", "A", BEGAN.quote, BEGAN.start + 1, BEGAN.end + 1, [])

    t = score([judge_timeline(STRIKE, timeline(shifted, EXTENDED, ENDED), TEXTS)])["all"].timeline

    assert t.quote_exactness == pytest.approx(2 / 3)


def test_empty_topics_must_stay_empty():
    empty = timeline_item(id="e1")
    right = judge_timeline(empty, timeline(), TEXTS)
    wrong = judge_timeline(empty.model_copy(update={"id": "e2"}), timeline(BEGAN), TEXTS)

    t = score([right, wrong])["all"].timeline

    assert t.empty_correct == 0.5
    assert t.precision == 0.0  # the empty item lists every event: none


def test_scores_per_split_and_over_all():
    good = judge_timeline(STRIKE, timeline(BEGAN, EXTENDED, ENDED), TEXTS)
    bad = judge_timeline(
        STRIKE.model_copy(update={"id": "t2", "split": "check"}), timeline(ENDED, BEGAN), TEXTS
    )

    scores = score([good, bad])

    assert scores["tuning"].timeline.order_accuracy == 1.0
    assert scores["check"].timeline.order_accuracy == 0.0
    assert scores["all"].timeline.order_accuracy == pytest.approx(3 / 4)
    assert scores["all"].errors and all(e.startswith("t2: ") for e in scores["all"].errors)
    data = scores["all"].to_dict()
    assert set(data) == {"timeline", "errors"}
    assert data["timeline"]["order_accuracy"] == 0.75
    json.dumps(data)


def cite(doc_id: str, published: date, quote: str) -> Citation:
    return Citation(1, doc_id, doc_id, None, published, quote, 0, len(quote), 1.0, doc_id)


TOLL = ChangesItem(
    id="c",
    split="check",
    kind="changes",
    question="How many died?",
    since=date(2025, 3, 10),
    today=date(2025, 3, 15),
    before=["12"],
    after=["17"],
    changed=True,
    before_date=date(2025, 3, 10),
    after_date=date(2025, 3, 14),
)


def changes(before: Answer, after: Answer, changed: bool = True) -> Changes:
    return Changes("q", TOLL.since, TOLL.today, before, after, changed, "")


def test_changes_right():
    before = Answer("q", "Twelve people died [1].", [cite("a", date(2025, 3, 10), "12")])
    after = Answer("q", "17 people died [1].", [cite("b", date(2025, 3, 14), "17")])

    judged = judge_changes(TOLL, changes(before, after))

    assert not judged.before_strict and judged.before_normalized  # "Twelve" reads as 12
    assert judged.after_strict and judged.after_normalized
    assert judged.changed_right and judged.dates_right
    c = score([judged])["all"].changes
    assert c.to_dict()["after_normalized_rate"] == 1.0 and c.to_dict()["dates_right_rate"] == 1.0


def test_changes_wrong_answer_change_and_dates():
    before = Answer("q", "12 died [1].", [cite("a", date(2025, 3, 10), "12")])
    after = Answer("q", "15 died [1].", [cite("b", date(2025, 3, 11), "15")])

    judged = judge_changes(TOLL, changes(before, after, changed=False))

    assert judged.before_normalized and not judged.after_normalized
    assert not judged.changed_right and judged.dates_right is False
    assert len(judged.errors) == 3


def test_changes_empty_gold_means_the_answer_must_abstain():
    item = TOLL.model_copy(update={"before": [], "before_date": None})
    said = Answer("q", "12 died [1].", [cite("a", date(2025, 3, 10), "12")])
    abstained = Answer("q", "The articles don't say.", abstained=True)
    after = Answer("q", "17 [1].", [cite("b", date(2025, 3, 14), "17")])

    assert judge_changes(item, changes(abstained, after)).before_normalized
    assert not judge_changes(item, changes(said, after)).before_normalized


OFFER = FreshnessItem(
    id="f",
    split="tuning",
    kind="freshness",
    question="What pay rise was offered?",
    today=date(2025, 6, 20),
    cite="4% rise",
    note=True,
    mention="Castlemere",
)
NOTE = FreshnessNote(
    date(2025, 6, 2), [EventSource("d", "Castlemere dock strike ends", date(2025, 6, 12))]
)


def answer(quote: str, note: FreshnessNote | None) -> Answer:
    return Answer("q", quote, [cite("a", date(2025, 6, 2), quote)], freshness=note)


def test_freshness_precision_and_recall():
    due = judge_freshness(OFFER, answer("an offer of a 4% rise", NOTE))
    missing = judge_freshness(OFFER.model_copy(update={"id": "f2"}), answer("a 4% rise", None))
    not_due = OFFER.model_copy(update={"id": "f3", "note": False})
    wrong = judge_freshness(not_due, answer("a 4% rise", NOTE))
    right = judge_freshness(not_due.model_copy(update={"id": "f4"}), answer("a 4% rise", None))

    f = score([due, missing, wrong, right])["all"].freshness

    assert (f.tp, f.fn, f.fp, f.tn) == (1, 1, 1, 1)
    assert f.precision == 0.5 and f.recall == 0.5
    assert f.mentions_right == 2 and f.mentions == 2


def test_freshness_items_whose_answer_rests_elsewhere_are_left_out():
    elsewhere = judge_freshness(OFFER, answer("a 6% pay rise", None))

    f = score([elsewhere])["all"].freshness

    assert f.premise_missed == 1 and f.tp + f.fn == 0 and f.recall is None
    assert "does not cite" in elsewhere.errors[0]


def test_text_summary_names_every_kind_and_split():
    judged = [
        judge_timeline(STRIKE, timeline(BEGAN, EXTENDED, ENDED), TEXTS),
        judge_freshness(OFFER, answer("4% rise", NOTE)),
    ]

    text = text_summary(score(judged), "gold.jsonl")

    assert "timeline" in text and "freshness" in text and "changes" not in text
    assert "order=1.000" in text and "precision=1.000" in text


# ---- the gold file --------------------------------------------------------------------------


def test_the_gold_file_is_valid_with_negatives_of_every_kind():
    items = load_news_gold(GOLD)

    assert {i.split for i in items} == {"tuning", "check"}
    timelines = [i for i in items if isinstance(i, TimelineItem)]
    changed = [i for i in items if isinstance(i, ChangesItem)]
    fresh = [i for i in items if isinstance(i, FreshnessItem)]
    assert len(timelines) >= 4 and any(not i.events for i in timelines)
    assert 3 <= len(changed) <= 5 and any(not i.changed for i in changed)
    assert len(fresh) >= 4 and any(i.note for i in fresh) and any(not i.note for i in fresh)
    files = {p.name for p in STORIES.iterdir()}
    assert {e.doc for i in timelines for e in i.events} <= files
    for i in timelines:  # every phrase is in its article
        for e in i.events:
            assert e.phrase in (STORIES / e.doc).read_text(encoding="utf-8"), (i.id, e.phrase)
    for i in fresh:
        assert i.cite is None or any(
            i.cite in p.read_text(encoding="utf-8") for p in STORIES.iterdir()
        )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"id": "x", "split": "tuning", "kind": "poem"}', "poem"),
        ('{"id": "x", "split": "tuning", "kind": "freshness", "question": "q"}', "today"),
        ("not json", "line 1|:1:"),
    ],
)
def test_a_bad_line_is_named(tmp_path, line, problem):
    path = tmp_path / "gold.jsonl"
    path.write_text(line + "\n", encoding="utf-8")

    with pytest.raises(GoldSetError, match=problem):
        load_news_gold(path)


def test_kinds_and_docs_are_checked():
    items = load_news_gold(GOLD)
    with pytest.raises(GoldSetError, match="unknown kinds"):
        select(items, ["timelines"])
    info = ArticleInfo("fire-1-abc", "Fire", None, None, "/x/fire-1.md", 1)
    fire = timeline_item(("fire-1.md", "killed"), ("fire-1-abc", "killed"))
    (resolved,) = resolve([fire], [info])
    assert isinstance(resolved, TimelineItem)
    assert [e.doc for e in resolved.events] == ["fire-1-abc", "fire-1-abc"]
    with pytest.raises(GoldSetError, match="fire-2.md"):
        resolve([timeline_item(("fire-2.md", "x"))], [info])


# ---- the real pipeline on the stories -------------------------------------------------------


def run_items(story_assistant, items) -> list:
    """Judge items through the real Assistant; each freshness answer quotes its ``cite``."""
    base = story_assistant()  # no replies: a timeline that called the model would fail
    resolved = resolve(items, base.list_articles())
    judged = []
    for item in resolved:
        assistant = base
        if isinstance(item, FreshnessItem):
            assistant = story_assistant(llm=QuotingChatModel(phrases=[item.cite or ""]))
        judged.append(judge(assistant, item))
    return judged


def test_timelines_and_freshness_notes_on_the_stories(story_assistant):
    items = select(load_news_gold(GOLD), ["timeline", "freshness"])

    scores = score(run_items(story_assistant, items))

    t, f = scores["all"].timeline, scores["all"].freshness
    assert t.order_accuracy == 1.0 and t.quote_exactness == 1.0
    assert t.recall is not None and t.recall >= 0.9
    assert t.precision is not None and t.precision >= 0.9
    assert t.empty_correct == 1.0
    assert f.premise_missed == 0
    assert f.precision == 1.0 and f.recall == 1.0
    assert f.mentions_right == f.mentions > 0


def test_changes_items_are_wired_to_assistant_changes(story_assistant):
    (item,) = [i for i in load_news_gold(GOLD) if i.id == "changes-strike-ended"]
    assistant = story_assistant(
        "The strike at the Port of Castlemere has been extended until Friday 13 June [1].",
        "The strike at the Port of Castlemere ended on Wednesday night [1].",
    )

    judged = judge(assistant, item)

    assert judged.errors == ()
    c = score([judged])["tuning"].changes
    assert (c.before_strict, c.after_strict, c.changed_right, c.dates_right) == (1, 1, 1, 1)


def test_a_corpus_is_ingested_into_a_temporary_store(tmp_path, embedder):
    own = tmp_path / "own-store"
    assistant = Assistant(Settings(store=StoreSettings(path=own)), embedder=embedder)
    items = [i for i in load_news_gold(GOLD) if i.id == "timeline-fire"]

    scores, judged = evaluate_news(assistant, items, corpus=STORIES)

    assert scores["all"].timeline.recall == 1.0 and len(judged) == 1
    assert not own.exists() or not any(own.iterdir())  # the user's store is never touched
