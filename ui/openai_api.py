"""An OpenAI-compatible chat API: ``create_openai_api(assistant) -> FastAPI``, at ``/v1``.

So that any OpenAI client, LangChain's ``ChatOpenAI`` or a chat front end (Open WebUI's
"OpenAI connection", LibreChat, ...) can talk to newsqa. ``rag serve`` mounts it at ``/v1``
behind the same guard, token and body limit as the REST API (``ui.server``).

* ``GET /v1/models`` lists the one model, ``newsqa`` (``GET /v1/models/newsqa`` shows it).
* ``POST /v1/chat/completions``: the last user message is the question, earlier user and
  assistant turns are the history (a follow-up is condensed into a standalone question, as in
  the chat); system and developer messages are ignored (the assistant's prompt is fixed).
  The reply's ``content`` is the verified answer with its ``[n]`` markers and a markdown
  "Sources" list (title, date, quote); an abstention is a normal reply that says why. The
  structured citations come as the extra top-level ``citations`` field (like Perplexity's
  grounded answers: one object per ``[n]`` with ``doc_id, title, url, published, quote,
  start, end``), with ``abstained`` and ``abstain_reason``.
* ``"stream": true`` sends ``chat.completion.chunk`` server-sent events and ``data: [DONE]``.
  The text is sent once it is verified (an unsupported sentence must never reach the screen),
  with SSE comments as keep-alives while the model writes; the last chunk carries
  ``finish_reason: "stop"`` and the ``citations``.
* Our options, top-level in the body (the OpenAI client's ``extra_body``): ``today``,
  ``since``, ``until`` (``YYYY-MM-DD``) and ``k`` (passages, 1-20).
* ``max_tokens``, ``max_completion_tokens``, ``temperature``, ``top_p`` are checked and then
  ignored: the length and sampling of answers are the server's (``[llm]``), answers are at
  most three verified sentences. ``n`` must be 1. Unknown fields are ignored.

Errors are OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: 400 invalid
request (wrong types, no user message, empty or too long question), 401 no or wrong token,
403 another site's page, 404 unknown model or route, 409 empty store, 413 request too large,
503 model unavailable or busy (with ``Retry-After``; OpenAI clients retry it).

Example:
    >>> from openai import OpenAI
    >>> client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="unused")
    >>> client.chat.completions.create(model="newsqa", messages=[{"role": "user",
    ...     "content": "Why did Ukraine want Patriot systems?"}]).choices[0].message.content
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from rag import Assistant
from rag.config import Settings
from rag.errors import (
    EmptyStoreError,
    InvalidQuestionError,
    ModelBusyError,
    ModelError,
    RagError,
    StoreLockedError,
)
from rag.types import Answer, AskOptions, Citation, Token
from ui.api import ApiError, ModelSlots

logger = logging.getLogger(__name__)

MODEL_ID = "newsqa"
CREATED = 1_751_587_200  # 2025-07-04: when the model "newsqa" was first served
SOURCES_HEADING = "**Sources**"
KEEPALIVE_S = 5.0  # an SSE comment this often while the model writes

# Our error classes -> OpenAI's ``code`` (the status comes from ``ui.api``, as for /api).
_CODES: list[tuple[type[RagError], str]] = [
    (EmptyStoreError, "empty_store"),
    (StoreLockedError, "store_busy"),
    (ModelBusyError, "model_busy"),
    (ModelError, "model_unavailable"),
    (InvalidQuestionError, "invalid_question"),
]


# ---- request models --------------------------------------------------------------------------


class _Lenient(BaseModel):
    """OpenAI clients send fields we do not know: they are ignored, never an error."""

    model_config = ConfigDict(extra="ignore")


class ContentPart(_Lenient):
    """One part of a message's content; only ``text`` parts are read."""

    type: str
    text: str | None = None


class ChatMessage(_Lenient):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatRequest(_Lenient):
    """``POST /v1/chat/completions``: OpenAI's fields, and ours (``today, since, until, k``)."""

    model: str = Field(description=f"Must be {MODEL_ID!r} (see GET /v1/models).")
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool = False
    max_tokens: Annotated[int, Field(ge=1)] | None = Field(None, description="Ignored.")
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = Field(None, description="Ignored.")
    temperature: Annotated[float, Field(ge=0, le=2)] | None = Field(None, description="Ignored.")
    top_p: Annotated[float, Field(ge=0, le=1)] | None = Field(None, description="Ignored.")
    n: Annotated[int, Field(ge=1, le=1)] | None = Field(None, description="Only 1.")
    today: date | None = Field(None, description="Answer as of this date (default: today).")
    since: date | None = Field(None, description="Only articles published on or after.")
    until: date | None = Field(None, description="Only articles published on or before.")
    k: Annotated[int, Field(ge=1, le=20)] | None = Field(None, description="Passages to use.")


# ---- errors ----------------------------------------------------------------------------------


class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.headers = headers or {}

    @classmethod
    def from_api(cls, ex: ApiError, code: str | None = None) -> OpenAIError:
        """The same refusal as the REST API's, in OpenAI's shape."""
        return cls(ex.status, str(ex), code or _code_for_status(ex.status), headers=ex.headers)

    @classmethod
    def from_rag(cls, ex: RagError, retry_after_s: int) -> OpenAIError:
        """One of our errors, with the REST API's status for it."""
        code = next((c for kind, c in _CODES if isinstance(ex, kind)), "invalid_request")
        return cls.from_api(ApiError.from_rag(ex, retry_after_s), code)

    def body(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": str(self),
                "type": _error_type(self.status),
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        """The JSON response."""
        return JSONResponse(self.body(), self.status, headers=self.headers)


def error_response(status: int, message: str) -> JSONResponse:
    """A refusal made outside this app (the token check, the body limit) in OpenAI's shape."""
    return OpenAIError(status, message, _code_for_status(status)).response()


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def _code_for_status(status: int) -> str:
    codes = {
        400: "invalid_request",
        401: "invalid_api_key",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "request_too_large",
        503: "model_unavailable",
    }
    return codes.get(status, "invalid_request" if status < 500 else "internal_error")


# ---- the app ---------------------------------------------------------------------------------


def create_openai_api(
    assistant: Assistant, settings: Settings | None = None, *, slots: ModelSlots | None = None
) -> FastAPI:
    """The OpenAI-compatible API over ``assistant``; ``rag serve`` mounts it at ``/v1``.

    It checks no token and no body size itself: ``ui.server.build_server`` puts it behind
    the same ones as the REST API.

    Args:
        assistant: Answers the questions.
        settings: Limits (``[serve]``; default: the assistant's).
        slots: The model slots to share with the other doors (default: its own
            ``serve.model_slots``).

    Example:
        >>> app = FastAPI()
        >>> app.mount("/v1", create_openai_api(assistant))
    """
    limits = (settings or assistant.settings).serve
    slots = slots or ModelSlots(limits.model_slots, limits.retry_after_s)
    app = FastAPI(
        title="newsqa (OpenAI-compatible)",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the REST API's /openapi.json documents ours; this one is OpenAI's
    )
    _add_error_handlers(app)

    @app.get("/models")
    async def models() -> dict[str, Any]:
        """The one model: ``newsqa``."""
        return {"object": "list", "data": [_model()]}

    @app.get("/models/{model:path}")
    async def model(model: str) -> dict[str, Any]:
        """``newsqa``, or 404."""
        _check_model(model)
        return _model()

    @app.post("/chat/completions")
    async def chat_completions(request: ChatRequest) -> Any:
        """Answer the last user message with cited passages (``stream``: server-sent events)."""
        _check_model(request.model)
        question, history = conversation(request.messages, limits.max_history)
        options = AskOptions(request.k, request.today, request.since, request.until, history)
        reply_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        # The model slot is taken when the model is about to run (a question the relevance
        # gate refuses never takes one); it is given back when the stream ends.
        events = assistant.stream(question, options, slot=slots.slot())
        try:  # errors before the answer (empty store, bad question, busy): a JSON error
            first = await run_in_threadpool(next, events, None)
            if not request.stream:
                answer = await run_in_threadpool(_last, first, events)
                return completion(answer, reply_id, created)
        except RagError as ex:
            raise OpenAIError.from_rag(ex, limits.retry_after_s) from ex
        finally:
            if not request.stream:
                events.close()
        return StreamingResponse(
            _chunks(events, first, reply_id, created),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    every = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    @app.api_route("/{rest:path}", methods=every, include_in_schema=False)
    async def unknown(request: Request, rest: str) -> Any:
        """No such route here: an OpenAI-shaped 404 (or 405 for a known route)."""
        known = {"models": "GET", "chat/completions": "POST"}
        if rest in known:
            headers = {"Allow": known[rest]}
            message = f"{request.method} is not allowed here."
            raise OpenAIError(405, message, "method_not_allowed", headers=headers)
        raise OpenAIError(404, f"Unknown request URL: {request.url.path}", "unknown_url")

    return app


def _model() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "newsqa"}


def _check_model(name: str) -> None:
    if name != MODEL_ID:
        raise OpenAIError(
            404,
            f"The model {name!r} does not exist: this server has only {MODEL_ID!r}.",
            "model_not_found",
            param="model",
        )


def _add_error_handlers(app: FastAPI) -> None:
    """Every error in OpenAI's shape: never an HTML page or a traceback."""

    async def openai_error(request: Request, ex: Exception) -> JSONResponse:
        assert isinstance(ex, OpenAIError)
        return ex.response()

    async def http_error(request: Request, ex: Exception) -> JSONResponse:
        assert isinstance(ex, HTTPException)
        status = ex.status_code
        error = OpenAIError(status, str(ex.detail), _code_for_status(status))
        error.headers = dict(ex.headers or {})
        return error.response()

    async def invalid(request: Request, ex: Exception) -> JSONResponse:
        assert isinstance(ex, RequestValidationError)
        errors = list(ex.errors())
        first = errors[0] if errors else {}
        where = [str(x) for x in first.get("loc", ()) if x != "body"]
        message = "; ".join(_problem(e) for e in errors[:5]) or "Invalid request body."
        return OpenAIError(400, message, "invalid_value", ".".join(where) or None).response()

    async def internal(request: Request, ex: Exception) -> JSONResponse:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=ex)
        message = "internal error; the details are in the server log"
        return OpenAIError(500, message, "internal_error").response()

    app.add_exception_handler(OpenAIError, openai_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, internal)


def _problem(error: Any) -> str:
    where = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
    message = str(error.get("msg", "invalid"))
    return f"{where}: {message}" if where else message


# ---- the conversation ------------------------------------------------------------------------


def conversation(
    messages: Sequence[ChatMessage], max_history: int
) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the earlier (question, answer) turns.

    Consecutive messages of one role are one message (and a reply before any question is
    left out). Only the last ``max_history`` turns are kept (the chat trims
    the rest by tokens anyway). Our own "Sources" list is cut from earlier replies.
    """
    turns: list[tuple[str, str]] = []  # (role, text) of user and assistant messages
    for i, message in enumerate(messages):
        if message.role not in ("user", "assistant"):
            continue
        text = _text(message, i)
        if turns and turns[-1][0] == message.role:
            turns[-1] = (message.role, f"{turns[-1][1]}\n{text}".strip())
        else:
            turns.append((message.role, text))
    if not turns or turns[-1][0] != "user":
        raise OpenAIError(
            400, "The last message must be the user's question.", "invalid_value", "messages"
        )
    # Roles now alternate: each assistant reply answers the user message before it.
    history = [
        (turns[n - 1][1], strip_sources(text))
        for n, (role, text) in enumerate(turns[:-1])
        if role == "assistant" and n > 0
    ]
    return turns[-1][1], history[-max_history:] if max_history else []


def _text(message: ChatMessage, index: int) -> str:
    """A message's text; anything but text parts is refused (we cannot read images)."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise OpenAIError(
                400,
                f"Only text content is supported, not {part.type!r}.",
                "unsupported_content",
                f"messages.{index}.content",
            )
        texts.append(part.text)
    return "\n".join(texts)


def strip_sources(text: str) -> str:
    """An earlier reply of ours without its "Sources" list (the history is the answer)."""
    return text.split(f"\n\n{SOURCES_HEADING}", 1)[0].strip()


# ---- the reply -------------------------------------------------------------------------------


def content(answer: Answer) -> str:
    """The reply's markdown: the answer with its ``[n]`` markers, then the sources it cites.

    An abstention says why. Titles and quotes are article text: markdown in them is escaped,
    so an article cannot put a link or a remote image into a chat client.
    """
    if answer.abstained:
        reason = f" ({answer.abstain_reason})" if answer.abstain_reason else ""
        return f"{answer.text}{reason}"
    lines = [answer.text.replace("<", "\\<")]  # no HTML from the model's words either
    if answer.citations:
        lines += ["", SOURCES_HEADING, ""]
        lines += [_source(c) for c in answer.citations]
    return "\n".join(lines)


def _source(c: Citation) -> str:
    day = c.published.isoformat() if c.published else "undated"
    title = _escape(c.title)
    if c.url and c.url.startswith(("http://", "https://")):
        title = f"[{title}](<{quote(c.url, safe=_URL_SAFE)}>)"
    return f"- [{c.n}] {title} ({day}): “{_escape(c.quote)}”"


_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")  # what can start markup inside a line
_URL_SAFE = ":/?#@!$&'()*+,;=%~"


def _escape(text: str) -> str:
    """Article text shown as itself in markdown: one line, every special character escaped."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def citations(answer: Answer) -> list[dict[str, Any]]:
    """The structured citations: the ``citations`` of ``rag ask --json``, one per ``[n]``."""
    return answer.to_dict()["citations"]


def completion(answer: Answer, reply_id: str, created: int) -> dict[str, Any]:
    """A ``chat.completion`` object with our extra top-level fields."""
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content(answer), "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": None,
        "system_fingerprint": None,
        **_grounding(answer),
    }


def _grounding(answer: Answer) -> dict[str, Any]:
    return {
        "citations": citations(answer),
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
    }


def _last(first: Token | Answer | None, events: Iterator[Token | Answer]) -> Answer:
    """The final ``Answer`` of a stream whose first event was ``first``."""
    event = first
    for event in events:  # noqa: B007  (the last one is the answer)
        pass
    assert isinstance(event, Answer)  # Assistant.stream always ends with one
    return event


async def _chunks(
    events: Iterator[Token | Answer],
    first: Token | Answer | None,
    reply_id: str,
    created: int,
) -> AsyncIterator[str]:
    """``chat.completion.chunk`` events: the role, keep-alives, the verified text, the end."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        event, last_sent = first, time.monotonic()
        while isinstance(event, Token):
            if time.monotonic() - last_sent >= KEEPALIVE_S:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            event = await run_in_threadpool(next, events, None)
        assert isinstance(event, Answer)
        text = content(event)
        answer, _, sources = text.partition(f"\n\n{SOURCES_HEADING}")
        yield chunk({"content": answer})
        if sources:
            yield chunk({"content": f"\n\n{SOURCES_HEADING}{sources}"})
        yield chunk({}, "stop", **_grounding(event))
    except RagError as ex:
        yield _error_event(OpenAIError.from_rag(ex, 0))
    except Exception:
        logger.exception("streaming a chat completion failed")
        message = "internal error; the details are in the server log"
        yield _error_event(OpenAIError(500, message, "internal_error"))
    finally:
        close = getattr(events, "close", None)
        if close:  # unwinds the model's generation, frees its lock and the model slot
            close()
    yield "data: [DONE]\n\n"


def _error_event(error: OpenAIError) -> str:
    return f"data: {json.dumps(error.body(), ensure_ascii=False)}\n\n"
