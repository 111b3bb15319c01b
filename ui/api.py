"""The REST API: ``create_api(assistant) -> FastAPI``, served beside the chat by ``rag serve``.

Routes (every error is JSON ``{"error": message}`` with a 4xx status, or 503 for the model):

* ``POST /api/ask``: a question -> the ``Answer.to_dict()`` JSON; ``"stream": true`` answers
  with server-sent events instead: ``token`` events as the model writes, then ``answer``.
* ``POST /api/timeline``: a topic -> ``Timeline.to_dict()``, the JSON of ``rag timeline
  --json`` (events oldest first, each an exact article sentence; no model call).
* ``POST /api/changes``: a question and a date -> ``Changes.to_dict()``, the JSON of ``rag ask
  --since-then DATE --json``; ``"stream": true``: ``token`` {text, as_of} and ``answer``
  {as_of, answer} events for each of the two answers, then ``changes``.
* ``POST /api/ingest``: multipart ``files`` or JSON records -> the ``IngestReport``.
* ``GET /api/articles``, ``DELETE /api/articles/{doc_id}``, ``GET /api/health``.

Who may call these routes, and how large a request may be, is decided before a request gets
here, by the door policy that ``rag serve`` puts in front of every interface
(``ui.policy.Policy``): this module only documents the bearer token in the schema. Model
work runs in the threadpool, so the event loop keeps serving while the model thinks; at most
``serve.model_slots`` requests use or wait for the model at once, and the next one gets 503
with ``Retry-After``.

Example:
    >>> import uvicorn
    >>> uvicorn.run(ui.server.build_server(Assistant.from_config()), port=8000)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from rag import Assistant
from rag.config import ServeSettings, Settings
from rag.errors import (
    ConfigError,
    EmptyStoreError,
    ModelBusyError,
    ModelError,
    RagError,
    StoreBusyError,
    StoreLockedError,
)
from rag.types import Answer, ArticleInfo, AskOptions, Changes, Citation, IngestReport, Token
from ui import access
from ui.policy import LOCKED_KEY, USER_KEY

logger = logging.getLogger(__name__)

RECORDS_NAME = "api-records.jsonl"
INTERNAL_ERROR = "internal error; the details are in the server log"

# RagError subclasses -> HTTP status (first match wins; any other RagError is a 400).
_STATUS: list[tuple[type[RagError], int]] = [
    (EmptyStoreError, 409),
    (StoreLockedError, 409),
    (ModelError, 503),  # ModelBusyError too
    (ConfigError, 503),
    (StoreBusyError, 503),
]


# ---- request and response models ------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_In):
    """One earlier question and the answer it got (for follow-up questions)."""

    question: str
    answer: str


_DEFAULTS = ServeSettings()


class AskRequest(_In):
    """A question; the options are ``AskOptions`` (those of ``Assistant.stream``)."""

    question: str = Field(description="The question (at most 2,000 characters).")
    history: Annotated[list[Turn], Field(max_length=_DEFAULTS.max_history)] = []
    today: date | None = Field(None, description="Answer as of this date (default: today).")
    k: Annotated[int, Field(ge=1, le=20)] | None = Field(None, description="Passages to use.")
    since: date | None = Field(None, description="Only articles published on or after.")
    until: date | None = Field(None, description="Only articles published on or before.")
    stream: bool = Field(False, description="Answer with server-sent events.")

    def options(self) -> AskOptions:
        """The options of ``Assistant.stream``."""
        history = [(t.question, t.answer) for t in self.history]
        return AskOptions(self.k, self.today, self.since, self.until, history)


class Record(_In):
    """An article given as JSON (like a line of a ``.jsonl`` file)."""

    doc_id: str | None = None
    title: str
    text: str
    url: str | None = None
    published: str | None = Field(None, description="A date, e.g. 2025-07-04.")


class TimelineRequest(_In):
    """A topic; the options of ``Assistant.timeline``."""

    topic: str = Field(description="What the story is about (at most 2,000 characters).")
    since: date | None = Field(None, description="Only articles published on or after.")
    until: date | None = Field(None, description="Only articles published on or before.")
    today: date | None = Field(None, description="As of this date: later articles are hidden.")
    limit: Annotated[int, Field(ge=1, le=100)] = Field(12, description="At most this many events.")
    headings: bool = Field(False, description="A verified one-line heading per event (LLM).")


class ChangesRequest(_In):
    """A question and the date to compare with; the other options as for ``/api/ask``."""

    question: str = Field(description="The question (at most 2,000 characters).")
    since: date = Field(description="Answer as of this date too, and say what changed since.")
    history: Annotated[list[Turn], Field(max_length=_DEFAULTS.max_history)] = []
    today: date | None = Field(None, description="The second answer as of this date.")
    k: Annotated[int, Field(ge=1, le=20)] | None = Field(None, description="Passages to use.")
    stream: bool = Field(False, description="Answer with server-sent events.")

    def options(self) -> AskOptions:
        """The options of ``Assistant.stream_changes``."""
        history = [(t.question, t.answer) for t in self.history]
        return AskOptions(self.k, self.today, history=history)


class SourceOut(BaseModel):
    """An article: ``EventSource``."""

    doc_id: str
    title: str
    published: date | None


class ReportOut(SourceOut):
    """``Report``: an exact sentence of an article (``quote == text[start:end]``) and its value."""

    quote: str
    start: int
    end: int
    value: str


class DisagreementOut(BaseModel):
    """``Disagreement.to_dict()``: two reports stating different values for one thing."""

    kind: str
    older: ReportOut
    newer: ReportOut
    same_day: bool
    update: bool
    used: str | None
    text: str


class FreshnessOut(BaseModel):
    """``FreshnessNote.to_dict()``: the answer rests on an old report; newer ones exist."""

    based_on: date
    newer: list[SourceOut]
    text: str


class EventOut(BaseModel):
    """``TimelineEvent.to_dict()``: one event, an exact sentence of its article."""

    published: date | None
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    sources: list[SourceOut]
    heading: str | None


class TimelineOut(BaseModel):
    """``Timeline.to_dict()``: the JSON printed by ``rag timeline --json``."""

    topic: str
    events: list[EventOut]
    reason: str | None


class RetrievedOut(BaseModel):
    """One retrieved chunk."""

    chunk_id: str
    doc_id: str
    title: str
    score: float


class AnswerOut(BaseModel):
    """``Answer.to_dict()``: the JSON printed by ``rag ask --json``."""

    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    grounded: bool | None
    unsupported: list[str]
    standalone_question: str | None
    citations: list[Citation]  # rag.types' dataclass itself: pydantic reads its fields
    retrieved: list[RetrievedOut]
    timings: dict[str, float]
    model: str
    disagreements: list[DisagreementOut]
    freshness_note: FreshnessOut | None


class ChangesOut(BaseModel):
    """``Changes.to_dict()``: the JSON printed by ``rag ask --since-then DATE --json``."""

    question: str
    since: date
    today: date
    before: AnswerOut
    after: AnswerOut
    changed: bool
    difference: str
    evidence: list[ReportOut]
    newest: date | None


# ``IngestReport``'s fields; its defaults would leave them optional in the schema, but every
# response has them all.
@pydantic_dataclass(config=ConfigDict(json_schema_serialization_defaults_required=True))
class IngestOut(IngestReport):
    """``IngestReport.to_dict()``: doc_ids by outcome; ``failed`` holds [where, reason]."""


@pydantic_dataclass(frozen=True)
class ArticleOut(ArticleInfo):
    """One stored article."""


class DeletedOut(BaseModel):
    """The article that was deleted."""

    deleted: str


class HealthOut(BaseModel):
    """Whether the server is up, its models are loaded, and what the store holds.

    With credentials required, an anonymous caller gets no counts (``null``).
    """

    status: str
    model: str
    models_loaded: dict[str, bool]
    articles: int | None = Field(None, description="Left out for anonymous callers.")
    chunks: int | None = Field(None, description="Left out for anonymous callers.")


class ErrorOut(BaseModel):
    """Every error response."""

    error: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in [
        (400, "Invalid request"),
        (401, "Missing or wrong token"),
        (409, "The store is empty or busy"),
        (413, "Request too large"),
        (422, "Invalid request body"),
        (503, "Model unavailable or busy (see Retry-After)"),
    ]
}
_RECORDS_SCHEMA = {
    "type": "array",
    "maxItems": _DEFAULTS.max_records,
    "items": Record.model_json_schema(),
}
_INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "maxItems": _DEFAULTS.max_files,
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                }
            },
            "application/json": {"schema": _RECORDS_SCHEMA},
        },
    }
}


# ---- errors ----------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}

    @classmethod
    def from_rag(cls, ex: RagError, retry_after_s: int) -> ApiError:
        """The status for one of our errors (its message is meant for users as it is)."""
        status = next((code for kind, code in _STATUS if isinstance(ex, kind)), 400)
        busy = isinstance(ex, ModelBusyError)
        headers = {"Retry-After": str(retry_after_s)} if busy else {}
        return cls(status, str(ex), headers)

    def response(self) -> JSONResponse:
        """The JSON response."""
        return JSONResponse({"error": str(self)}, self.status, headers=self.headers)


class ModelSlots:
    """Requests using or waiting for the model; one over the limit is told to come back."""

    def __init__(self, size: int, retry_after_s: int) -> None:
        self.size = size
        self.retry_after_s = retry_after_s
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        """Take a slot or raise ``ModelBusyError`` (503 with ``Retry-After``)."""
        with self._lock:
            if self.used >= self.size:
                raise ModelBusyError("The model is busy with other requests; try again shortly.")
            self.used += 1

    def give(self) -> None:
        """Give a slot back."""
        with self._lock:
            self.used -= 1

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """A slot held for the ``with`` block (``Assistant.stream`` enters it lazily)."""
        self.take()
        try:
            yield
        finally:
            self.give()


# ---- the app ---------------------------------------------------------------------------------


def create_api(assistant: Assistant, settings: Settings | None = None) -> FastAPI:
    """The REST API over ``assistant`` (``rag serve`` mounts the chat into it at ``/``).

    It checks no credentials and no body sizes itself: ``ui.server.build_server`` puts the
    door policy (``ui.policy.Policy``) in front of it and every other interface.

    Args:
        assistant: Answers, ingests, lists and deletes.
        settings: Limits (``[serve]``; default: the assistant's).

    Example:
        >>> from fastapi.testclient import TestClient
        >>> TestClient(create_api(assistant)).get("/api/health").json()["status"]
        'ok'
    """
    settings = settings or assistant.settings
    limits = settings.serve
    slots = ModelSlots(limits.model_slots, limits.retry_after_s)
    records = TypeAdapter(Annotated[list[Record], Field(max_length=limits.max_records)])
    app = FastAPI(
        title="newsqa",
        summary="Answers from your news articles, with the passage behind every claim.",
        version="1",
        docs_url=None,  # the Swagger page loads its scripts from a CDN: nothing remote here
        redoc_url=None,
        responses=_ERRORS,
    )
    _add_error_handlers(app)
    # Documents the token in the schema; ui.policy.Policy enforces it on every route.
    authorized = Depends(
        HTTPBearer(auto_error=False, description=f"The token in ${access.API_TOKEN_ENV}")
    )

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        """``fn`` in the threadpool (the event loop keeps serving), errors as ``ApiError``."""
        try:
            return await run_in_threadpool(fn, *args)
        except RagError as ex:
            raise ApiError.from_rag(ex, limits.retry_after_s) from ex

    @app.post(
        "/api/ask",
        response_model=AnswerOut,
        dependencies=[authorized],
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "The answer, or server-sent events",
            }
        },
    )
    async def ask(request: AskRequest, stream: bool = Query(False)) -> Any:  # noqa: B008
        """Answer a question with cited passages (``stream``: server-sent events)."""
        if len(request.history) > limits.max_history:
            raise ApiError(422, f"body.history: at most {limits.max_history} turns")
        options = request.options()
        # The slot is taken when the model is about to run: a question the relevance gate
        # refuses before the model never waits for it, nor counts against the others.
        slot = slots.slot()
        if not (stream or request.stream):
            ask_with_slot = functools.partial(assistant.ask, slot=slot)
            answer: Answer = await run(ask_with_slot, request.question, options)
            return answer.to_dict()
        events = assistant.stream(request.question, options, slot=slot)
        try:
            first = await run(next, events, None)  # errors before the answer: a JSON error
        except BaseException:
            events.close()
            raise
        return StreamingResponse(
            _sse(events, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post(
        "/api/ingest",
        response_model=IngestOut,
        dependencies=[authorized],
        openapi_extra=_INGEST_BODY,
    )
    async def ingest(request: Request) -> Any:
        """Add or update articles: multipart ``files``, or a JSON array of records."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            uploads = await _uploads(request, limits.max_files)
        elif kind == "application/json":
            uploads = [(RECORDS_NAME, _records_jsonl(records, await request.body()))]
        else:
            raise ApiError(415, "Send multipart/form-data files or a JSON array of records.")

        def ingest_all() -> dict[str, Any]:
            with slots.slot():  # ingest always needs the embedding model
                return _ingest_all(assistant, uploads)

        return await run(ingest_all)

    @app.get("/api/articles", response_model=list[ArticleOut], dependencies=[authorized])
    async def articles() -> Any:
        """Every stored article, newest first."""
        return [dataclasses.asdict(a) for a in await run(assistant.list_articles)]

    @app.delete(
        "/api/articles/{doc_id:path}",
        response_model=DeletedOut,
        dependencies=[authorized],
        responses={404: {"model": ErrorOut}},
    )
    async def delete(doc_id: str) -> Any:
        """Remove an article and all its chunks."""
        if not await run(assistant.delete, doc_id):
            raise ApiError(404, f"No such article: {doc_id}")
        return {"deleted": doc_id}

    _add_news_routes(app, assistant, run, slots, authorized, limits)

    @app.get("/api/health", response_model=HealthOut)
    async def health(request: Request) -> Any:
        """Up, which models are loaded, and (to callers who may read) what the store holds."""
        status: dict[str, Any] = {"status": "ok", "model": assistant.model_name}
        status["models_loaded"] = assistant.models_loaded
        if request.scope.get(LOCKED_KEY) and not request.scope.get(USER_KEY):
            return status  # an anonymous caller of a server that requires credentials

        def counts() -> tuple[int, int]:
            return len(assistant.list_articles()), assistant.count_chunks()

        status["articles"], status["chunks"] = await run(counts)
        return status

    every = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    @app.api_route("/api/{rest:path}", methods=every, include_in_schema=False)
    async def unknown(request: Request, rest: str) -> Any:
        """No such route (or not with this method): a JSON error, not the chat's 404 page."""
        path = request.url.path
        allowed = sorted(
            {
                method
                for route in app.routes
                if route is not unknown_route
                and (regex := getattr(route, "path_regex", None))
                and regex.match(path)
                for method in getattr(route, "methods", None) or ()
            }
        )
        if allowed:
            allow = {"Allow": ", ".join(allowed)}
            raise ApiError(405, f"{request.method} is not allowed here.", allow)
        raise ApiError(404, f"No such API route: {path}")

    unknown_route = app.routes[-1]
    app.state.model_slots = slots  # shared with the other doors of ``rag serve``
    return app


def _add_news_routes(
    app: FastAPI,
    assistant: Assistant,
    run: Callable[..., Awaitable[Any]],
    slots: ModelSlots,
    authorized: Any,
    limits: ServeSettings,
) -> None:
    """``/api/timeline`` and ``/api/changes`` (docs/news.md), on the conventions of ``/api/ask``."""

    @app.post("/api/timeline", response_model=TimelineOut, dependencies=[authorized])
    async def timeline(request: TimelineRequest) -> Any:
        """The events of a developing story, oldest first: exact sentences, dated."""
        # Extractive: the chat model (and so a slot) only for the optional headings.
        slot = slots.slot() if request.headings else None
        build = functools.partial(assistant.timeline, slot=slot)
        result = await run(
            build,
            request.topic,
            request.since,
            request.until,
            request.today,
            request.limit,
            request.headings,
        )
        return result.to_dict()

    @app.post(
        "/api/changes",
        response_model=ChangesOut,
        dependencies=[authorized],
        responses={200: {"content": {"text/event-stream": {}}, "description": "Or events"}},
    )
    async def changes(request: ChangesRequest, stream: bool = Query(False)) -> Any:  # noqa: B008
        """Answers as of ``since`` and as of ``today``, and what changed between them."""
        if len(request.history) > limits.max_history:
            raise ApiError(422, f"body.history: at most {limits.max_history} turns")
        options = request.options()
        # As for /api/ask: the slot is taken when the model is about to run, held for both
        # answers, and given back when the stream ends.
        events = assistant.stream_changes(
            request.question, request.since, options, slot=slots.slot()
        )
        if not (stream or request.stream):
            with contextlib.closing(events):
                result = await run(_last, events)
            return result.to_dict()
        try:
            first = await run(next, events, None)  # errors before the answer: a JSON error
        except BaseException:
            events.close()
            raise
        today = options.today or date.today()
        return StreamingResponse(
            _changes_sse(events, first, [request.since, today]),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _last(events: Iterator[Any]) -> Any:
    """The last event of a stream (``Changes`` for ``stream_changes``)."""
    last = None
    for last in events:  # noqa: B007
        pass
    return last


async def _changes_sse(
    events: Iterator[Token | Answer | Changes],
    first: Token | Answer | Changes | None,
    days: list[date],
) -> AsyncIterator[str]:
    """``token`` {text, as_of} and ``answer`` {as_of, answer} per answer, then ``changes``."""
    as_of = days.pop(0).isoformat()
    try:
        event = first
        while event is not None:
            if isinstance(event, Token):
                yield _event("token", {"text": event.text, "as_of": as_of})
            elif isinstance(event, Answer):
                yield _event("answer", {"as_of": as_of, "answer": event.to_dict()})
                as_of = days.pop(0).isoformat() if days else as_of
            else:
                yield _event("changes", event.to_dict())
            event = await run_in_threadpool(next, events, None)
    except RagError as ex:
        yield _event("error", {"error": str(ex)})
    except Exception:
        logger.exception("streaming what changed failed")
        yield _event("error", {"error": INTERNAL_ERROR})
    finally:  # unwinds the model's generation, frees its lock and the slot
        getattr(events, "close", lambda: None)()


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": message}``: never an HTML page or a traceback."""

    async def api_error(request: Request, ex: Exception) -> JSONResponse:
        assert isinstance(ex, ApiError)
        return ex.response()

    async def http_error(request: Request, ex: Exception) -> JSONResponse:
        assert isinstance(ex, HTTPException)
        return ApiError(ex.status_code, str(ex.detail), dict(ex.headers or {})).response()

    async def invalid(request: Request, ex: Exception) -> JSONResponse:
        assert isinstance(ex, RequestValidationError)
        return ApiError(422, _problems(ex.errors())).response()

    async def internal(request: Request, ex: Exception) -> JSONResponse:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=ex)
        return JSONResponse({"error": INTERNAL_ERROR}, 500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, internal)


def _problems(errors: Sequence[Any]) -> str:
    """``body.k: Input should be ...; body.question: Field required`` (first few)."""
    parts = []
    for e in list(errors)[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg")))
    return "; ".join(parts) or "invalid request"


async def _uploads(request: Request, max_files: int) -> list[tuple[str, bytes]]:
    """The files of a multipart request (the body size was checked before parsing)."""
    try:
        form = await request.form(max_files=max_files, max_fields=max_files)
    except HTTPException:
        raise
    except Exception as ex:  # a malformed multipart body
        raise ApiError(400, f"Unreadable multipart body: {ex}") from ex
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise ApiError(400, "Send the articles as multipart form field 'files'.")
    return [(f.filename or "upload", await f.read()) for f in files]


def _records_jsonl(adapter: TypeAdapter[list[Record]], body: bytes) -> bytes:
    """JSON records as the ``.jsonl`` file that ``Assistant.ingest`` reads."""
    try:
        records = adapter.validate_json(body)
    except ValidationError as ex:
        raise ApiError(422, _problems(ex.errors())) from ex
    if not records:
        raise ApiError(400, "Send at least one record.")
    # ASCII escapes: a lone surrogate in a string stays encodable, and ingest replaces it.
    lines = (json.dumps(r.model_dump(exclude_none=True)) for r in records)
    return "\n".join(lines).encode()


def _ingest_all(assistant: Assistant, uploads: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Ingest each upload; failures name the uploaded file, not where the server keeps it."""
    total: dict[str, Any] = {"added": [], "updated": [], "unchanged": [], "failed": []}
    total["chunks"] = 0
    for name, data in uploads:
        kept, report = assistant.ingest_upload(name, data)
        part = report.to_dict()
        part["failed"] = [
            (where.replace(str(kept), kept.name), reason) for where, reason in report.failed
        ]
        for key, value in part.items():
            total[key] += value
    return total


async def _sse(
    events: Iterator[Token | Answer], first: Token | Answer | None
) -> AsyncIterator[str]:
    """Server-sent events: ``token`` {text} events, then ``answer`` (or ``error``)."""
    try:
        event = first
        while event is not None:
            if isinstance(event, Token):
                yield _event("token", {"text": event.text})
            else:
                yield _event("answer", event.to_dict())
            event = await run_in_threadpool(next, events, None)
    except RagError as ex:
        yield _event("error", {"error": str(ex)})
    except Exception:
        logger.exception("streaming an answer failed")
        yield _event("error", {"error": INTERNAL_ERROR})
    finally:
        events_close = getattr(events, "close", None)
        if events_close:  # unwinds the model's generation, frees its lock and the slot
            events_close()


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
