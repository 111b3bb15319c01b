"""Gold questions -> ``EvalReport``: ask every question once and score what came back.

A run writes into its ``out`` folder::

    predictions.jsonl   one line per question: our answer, what was retrieved, read and
                        cited, the gold fields and the scores (written as it goes)
    metrics.json        every metric, overall, by question_type and by half, with config
                        and versions
    report.md/.html     the report people read (``rag.eval.report``); figures/ holds its PNGs
    store/              the fresh store, when a corpus was given
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

import rag.eval.report as report_files
from rag.assistant import Assistant
from rag.errors import EmptyStoreError, ModelError, StoreLockedError
from rag.eval.gold import (
    HALF_RULE,
    HALVES,
    EvalError,
    GoldQuestion,
    GoldSetError,
    Half,
    check_corpus,
    half_of,
    load_questions,
    select,
    split_date,
    withheld,
)
from rag.eval.match import choice_question
from rag.eval.results import EvalReport
from rag.eval.score import MODES, OK_OUTCOMES, Mode, Prediction, predict
from rag.types import Answer

logger = logging.getLogger(__name__)

OUTPUT_NAMES = ("predictions.jsonl", "metrics.json", "report.md", "report.html", "store")
PACKAGES = (
    "newsqa",
    "langchain-core",
    "chromadb",
    "sentence-transformers",
    "transformers",
    "torch",
    "llama-cpp-python",
    "langchain-openai",
    "numpy",
    "quantulum3",
    "pycountry",
)
_MAX_CONSECUTIVE_ERRORS = 3
_FATAL = (EmptyStoreError, ModelError, StoreLockedError)


def evaluate(
    assistant: Assistant,
    questions: str | Path | Sequence[GoldQuestion],
    *,
    corpus: str | Path | None = None,
    out: str | Path | None = None,
    k: int | None = None,
    mode: Mode = "open",
    limit: int | None = None,
    types: Iterable[str] | None = None,
    half: Half | None = None,
    overwrite: bool = False,
    withhold_gold: bool = False,
    progress: bool = False,
) -> EvalReport:
    """Ask every gold question once, as of its ``question_date``, and score the answers.

    Retrieval is scored on the ask's own retrieval (``Answer.retrieved``, ``k`` chunks) and
    on the passages the model read (``Answer.passages``). With ``out``, predictions are
    written as they come and the metrics and reports at the end (also when interrupted
    with Ctrl-C, marked ``run.interrupted``; the interrupt is then re-raised).

    Args:
        assistant: The assistant to evaluate; its store is used unless ``corpus`` is given.
        questions: A ``questions.jsonl`` path, or questions already loaded.
        corpus: Articles to ingest into a fresh store at ``out/store`` (never the
            assistant's own store); requires ``out``.
        out: The run folder. It must not hold a previous run unless ``overwrite``.
        k: Chunks retrieved for the model (default: ``retrieve.k`` of the config).
        mode: ``open`` (free answer) or ``choice`` (pick one of ``choices`` by letter).
        limit: Ask only the first ``limit`` (selected) questions.
        types: Ask only these question types.
        half: Ask only the ``tuning`` or the ``check`` half of the gold set (see
            ``rag.eval.gold.split_date``).
        overwrite: Replace a previous run in ``out`` (its store included).
        withhold_gold: Ask the answerable questions with their gold and answer-bearing
            articles left out (see ``withheld``); abstaining is then the right answer.
        progress: Show a progress bar with running metrics on stderr.

    Returns:
        The report; ``report.out`` is the run folder when ``out`` was given.

    Raises:
        EvalError: Invalid gold set, output folder in use or an empty store.

    Example:
        >>> from rag import Assistant
        >>> from rag.eval import evaluate
        >>> report = evaluate(Assistant.from_config(), "gold/questions.jsonl",
        ...                   corpus="gold/corpus.jsonl", out="runs/try", limit=5)
        >>> report.metrics["hit@5"], report.by_half["check"]["contains_gold"]
        (0.8, 0.6)
    """
    if mode not in MODES:
        raise EvalError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    source = questions if isinstance(questions, str | Path) else None
    everything = load_questions(questions) if isinstance(questions, str | Path) else list(questions)
    cut = split_date(everything)  # on the whole gold set: a question's half never moves
    gold = select(everything, types, limit, half)
    if withhold_gold:
        gold = withheld(gold)
    if mode == "choice":
        _check_choices(gold)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        _prepare(out_dir, overwrite, keep=assistant.settings.store_path)
    elif corpus is not None:
        raise EvalError("a corpus is ingested into a fresh store under the run folder: give out")

    started = time.perf_counter()
    run: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "questions_file": str(source) if source else None,
        "corpus_file": str(corpus) if corpus else None,
        "mode": mode,
        "limit": limit,
        "types": sorted(types) if types else None,
        "half": half,
        "halves": _halves(everything, cut),
        "withhold_gold": withhold_gold,
    }
    ingest_info = None
    if corpus is not None:
        assert out_dir is not None
        assistant, ingest_info = ingest_fresh(assistant, Path(corpus), out_dir / "store", progress)
    if assistant.store.count() == 0:
        raise EvalError("The store is empty: give a corpus (--corpus) or ingest articles first.")
    titles = {a.doc_id: a.title for a in assistant.list_articles()}
    missing = sorted({d for q in gold for d in q.evidence_doc_ids} - titles.keys())
    if missing:
        logger.warning(
            "%d gold articles are not in the store, e.g. %s", len(missing), ", ".join(missing[:3])
        )
    k = k or assistant.settings.retrieve.k
    run |= {
        "store": str(assistant.settings.store_path),
        "k": k,
        "n_questions": len(gold),
        "missing_evidence_doc_ids": missing,
        "model": assistant.model_name,
        "embed_model": assistant.settings.embed.model,
    }
    if (cache := getattr(assistant.llm, "response_cache", None)) is not None:
        run["llm_cache"] = str(cache.path)  # answers replayed: timings mean nothing
    fields = {
        "ingest": ingest_info,
        "config": assistant.settings.model_dump(mode="json"),
        "versions": versions(),
        "out": out_dir,
    }
    predictions: list[Prediction] = []

    def finish(stopped_by: str | None = None) -> EvalReport:
        run.update(
            completed=len(predictions),
            interrupted=stopped_by is not None,
            stopped_by=stopped_by,
            duration_s=round(time.perf_counter() - started, 2),
        )
        run["model"] = next((p.model for p in predictions if p.model), run["model"])
        return EvalReport.from_predictions(predictions, run=run, **fields)

    asking = _Asking(assistant, mode=mode, k=k, titles=titles, cut=cut)
    try:
        asking.ask_all(gold, predictions, out=out_dir, progress=progress)
    except BaseException as ex:  # Ctrl-C or a fatal error: keep what was done, then re-raise
        if out_dir is not None and predictions:
            try:
                write(finish(stopped_by=type(ex).__name__), out_dir)
                logger.warning(
                    "stopped after %d of %d questions; partial report in %s",
                    len(predictions),
                    len(gold),
                    out_dir,
                )
            except Exception:
                logger.exception("could not write the partial report")
        raise
    finally:
        if corpus is not None:
            assistant.store.close()  # the run's own store; the caller never sees it
    result = finish()
    if out_dir is not None:
        write(result, out_dir)
    return result


def write(result: EvalReport, out: Path) -> list[Path]:
    """Write ``metrics.json``, ``report.md``, ``report.html`` (and figures) into ``out``."""
    return [result.save(out), *report_files.write(result, out)]


def versions() -> dict[str, str]:
    """Python's and the installed versions of the packages that shape results."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _halves(questions: Sequence[GoldQuestion], cut: date | None) -> dict[str, Any]:
    """How the gold set splits into halves (recorded with the run)."""
    counts: dict[str, int] = {h: sum(half_of(q, cut) == h for q in questions) for h in HALVES}
    return {"rule": HALF_RULE, "split_date": cut.isoformat() if cut else None, **counts}


def _check_choices(gold: Sequence[GoldQuestion]) -> None:
    bad = [q.id for q in gold if not q.choices or (q.answerable and q.answer_choice_index is None)]
    if bad:
        raise GoldSetError(
            f"--mode choice needs 'choices' (and 'answer_choice_index' when answerable); "
            f"missing for {len(bad)} question(s): {', '.join(bad[:10])}"
        )


def _prepare(out: Path, overwrite: bool, keep: Path) -> None:
    if out.exists() and not out.is_dir():
        raise EvalError(f"--out must be a folder: {out}")
    used = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if used and not overwrite:
        raise EvalError(
            f"{out} already holds a run ({', '.join(used)}): choose a new folder or pass "
            "--overwrite"
        )
    store = out / "store"
    if store.is_dir():
        # Delete only a store that a previous eval made, never the user's own store.
        ours = (out / "predictions.jsonl").exists() or (out / "metrics.json").exists()
        if not ours or store.resolve() == keep.expanduser().resolve():
            raise EvalError(f"refusing to delete {store}: it is not a store made by rag eval")
        shutil.rmtree(store)
    out.mkdir(parents=True, exist_ok=True)


def ingest_fresh(
    assistant: Assistant, corpus: Path, store_dir: Path, progress: bool
) -> tuple[Assistant, dict[str, Any]]:
    """A copy of ``assistant`` over a new store holding ``corpus``, and how ingest went."""
    if corpus.suffix.lower() == ".jsonl":
        check_corpus(corpus)
    elif not corpus.exists():
        raise GoldSetError(f"file not found: {corpus}")
    # A local store even when the assistant's lives on a Chroma server (store.url).
    local = assistant.settings.store.model_copy(update={"path": store_dir, "url": None})
    settings = assistant.settings.model_copy(update={"store": local})
    fresh = Assistant(settings, llm=assistant.llm, embedder=assistant.embedder)
    started = time.perf_counter()
    result = fresh.ingest([corpus], progress=progress)  # models are loaded: this is ingest
    seconds = round(time.perf_counter() - started, 2)
    if result.failed:
        lines = "\n".join(f"{path}: {reason}" for path, reason in result.failed[:10])
        raise GoldSetError(f"{len(result.failed)} corpus record(s) could not be ingested:\n{lines}")
    logger.info("ingested %s in %.1fs", result, seconds)
    articles = len(result.added) + len(result.updated) + len(result.unchanged)
    info = {
        "seconds": seconds,
        "articles": articles,
        "chunks": result.chunks,
        "store": str(store_dir),
    }
    return fresh, info


class _Asking:
    """The question loop: one ``ask`` per question, scored at once."""

    def __init__(
        self,
        assistant: Assistant,
        *,
        mode: Mode,
        k: int,
        titles: dict[str, str],
        cut: date | None,
    ) -> None:
        self.assistant, self.mode, self.k, self.titles, self.cut = assistant, mode, k, titles, cut
        self.errors_in_a_row = 0

    def ask_all(
        self,
        gold: Sequence[GoldQuestion],
        predictions: list[Prediction],
        *,
        out: Path | None,
        progress: bool,
    ) -> None:
        """Ask each question, appending its prediction (and predictions.jsonl line) at once."""
        lines = (out / "predictions.jsonl").open("w", encoding="utf-8") if out else None
        bar = tqdm(gold, desc="eval", unit="q", disable=not progress, dynamic_ncols=True)
        try:
            for q in bar:
                prediction = self.ask(q)
                predictions.append(prediction)
                if lines:
                    lines.write(json.dumps(prediction.to_json(), ensure_ascii=False) + "\n")
                    lines.flush()
                bar.set_postfix(_running(predictions), refresh=False)
        finally:
            bar.close()
            if lines:
                lines.close()

    def ask(self, q: GoldQuestion) -> Prediction:
        """Ask one question (its retrieval is the one the answer used) and score it."""
        today = q.question_date or date.today()
        asked = choice_question(q.question, q.choices) if self.mode == "choice" else q.question
        error = None
        try:
            answer = self.assistant.ask(asked, today=today, k=self.k, exclude=q.withhold)
            self.errors_in_a_row = 0
        except _FATAL:
            raise
        except Exception as ex:  # one bad question must not sink a 20-minute run
            self.errors_in_a_row += 1
            if self.errors_in_a_row >= _MAX_CONSECUTIVE_ERRORS:
                raise
            logger.warning("question %s failed: %s", q.id, ex)
            error = f"{type(ex).__name__}: {ex}"
            answer = Answer(question=asked, text="")
        return predict(
            q,
            answer,
            mode=self.mode,
            asked=asked,
            titles=self.titles,
            half=half_of(q, self.cut),
            error=error,
        )


def _running(predictions: Sequence[Prediction]) -> dict[str, str]:
    """The few numbers shown next to the progress bar."""
    with_evidence = [p for p in predictions if p.answerable and p.evidence_doc_ids]
    shown = {
        "hit@5": _share(
            p.evidence_rank is not None and p.evidence_rank <= 5 for p in with_evidence
        ),
        "acc": _share(p.outcome in OK_OUTCOMES for p in predictions),
        "abst": _share(p.abstained for p in predictions),
    }
    return {name: f"{v:.2f}" for name, v in shown.items() if v is not None}


def _share(values: Iterable[bool]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None
