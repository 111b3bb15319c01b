"""What ``rag serve`` runs: the chat at ``/``, ``/api/``, ``/v1`` and ``/mcp``, behind the guard.

The one place that assembles the served interfaces (``build_server``) and runs them
(``serve``); logins and the API token come from ``ui.access``.

Example:
    >>> from rag import Assistant
    >>> from ui.server import serve
    >>> serve(Assistant.from_config(), port=7860)
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import click
import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware import Middleware
from starlette.routing import Route

from rag import Assistant
from rag.config import ServeSettings
from ui import access, render
from ui.api import BodyLimit, create_api
from ui.app import build_app
from ui.guard import LocalGuard, is_loopback
from ui.mcp_server import build_mcp
from ui.openai_api import create_openai_api
from ui.openai_api import error_response as openai_error

logger = logging.getLogger(__name__)


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted (loopback only unless ``host`` says otherwise)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    uploads = None
    if not os.environ.get("GRADIO_TEMP_DIR"):  # uploads in a private folder, not /tmp/gradio
        uploads = tempfile.mkdtemp(prefix="newsqa-uploads-")
        os.environ["GRADIO_TEMP_DIR"] = uploads
    auth = access.auth_from_env()
    if not auth and not is_loopback(host):
        logger.warning("serving on %s without a login: set %s=user:password", host, access.AUTH_ENV)
    import uvicorn

    app = build_server(assistant, host, port, auth)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    ready = threading.Thread(
        target=_when_ready, args=(server, url, assistant), name="ready", daemon=True
    )
    ready.start()
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGTERM, then raises it again with the previous
        # handler: make that an exit that runs the cleanup below instead of a hard kill.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run()  # until Ctrl-C or SIGTERM; exits 1 if the port is taken
    finally:
        if uploads:  # ingested uploads are copied into the store; these are scratch
            shutil.rmtree(uploads, ignore_errors=True)


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def build_server(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: list[access.Login] | None = None,
) -> FastAPI:
    """The REST API (``ui.api``) with the chat mounted at ``/``, ``/v1`` and ``/mcp`` beside it.

    ``/v1`` is the OpenAI-compatible API (``ui.openai_api``), ``/mcp`` the MCP tools over
    streamable HTTP (``ui.mcp_server``). ``LocalGuard`` wraps them all, the chat's logins also
    guard the API and both doors (as HTTP Basic auth, next to ``$NEWSQA_API_TOKEN``), and the
    chat gets the same options as ``launch_options``.

    Example:
        >>> uvicorn.run(build_server(Assistant.from_config()), port=7860)
    """
    limits = assistant.settings.serve
    token = access.api_token_from_env()
    app = create_api(assistant, token=token, logins=auth)
    slots = app.state.model_slots  # every door shares the API's model slots
    openai_api = create_openai_api(assistant, slots=slots)
    app.mount("/v1", _door(openai_api, token, auth, limits, refuse=openai_error))
    mcp = build_mcp(assistant, slots=slots)
    # LocalGuard checks Host and Origin for every route (the SDK's own check is off), and
    # the session manager runs for as long as the server does.
    mcp.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.append(
        Route("/mcp", _door(StreamableHTTPASGIApp(mcp.session_manager), token, auth, limits))
    )
    app.router.lifespan_context = _running(app.router.lifespan_context, mcp)
    app.add_middleware(LocalGuard, host=host)
    demo = build_app(assistant).queue(max_size=limits.queue_size, default_concurrency_limit=4)
    launch = launch_options(host, port, auth, limits)
    options = {k: v for k, v in launch.items() if k in _MOUNT_OPTIONS}
    return gr.mount_gradio_app(app, demo, path="/", **options)


def _door(
    app: Any,
    token: str,
    logins: list[access.Login] | None,
    limits: ServeSettings,
    refuse: Callable[[int, str], Response] | None = None,
) -> Any:
    """A door beside the REST API (``/v1``, ``/mcp``) with the API's body limit and token.

    The same refusals as ``/api/``: 413 over ``serve.max_json_kb``, then 401 without the
    token (or a chat login). To be dropped once one outer policy covers every route.
    """
    refuse = refuse or (lambda status, message: JSONResponse({"error": message}, status))
    authorized = access.RequireAuth(app, token, logins or [], refuse)
    return BodyLimit(
        authorized, limit=lambda _: limits.max_json_kb * 1024, prefix="/", refuse=refuse
    )


def _running(lifespan: Any, mcp: MCPServer) -> Any:
    """``lifespan`` with the MCP session manager running inside it."""

    @contextlib.asynccontextmanager
    async def both(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state, mcp.session_manager.run():
            yield state

    return both


# What mount_gradio_app takes of launch_options (LocalGuard is on the outer app already).
_MOUNT_OPTIONS = set(inspect.signature(gr.mount_gradio_app).parameters) - {"app_kwargs"}


def _when_ready(server: Any, url: str, assistant: Assistant) -> None:
    """Say where the app is once it listens, then load the models in the background."""
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    doors = f"REST API under {url}api/, OpenAI-compatible API at {url}v1, MCP at {url}mcp"
    click.echo(f"newsqa is ready at {url} ({doors})", err=False)
    _warm_up(assistant)


def launch_options(
    host: str,
    port: int,
    auth: list[access.Login] | None = None,
    limits: ServeSettings | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: no share link, no extra served paths.

    No ``/monitoring`` (Gradio enables it by default: ``/monitoring/summary`` lists every
    function's traffic to anyone), and ``ui.guard.LocalGuard`` refuses cross-site requests.
    """
    limits = limits or ServeSettings()
    return {
        "server_name": host,
        "server_port": port,
        "auth": auth,
        "max_file_size": f"{limits.max_upload_mb}mb",
        "css": render.CSS,
        "show_error": False,
        "quiet": True,
        "prevent_thread_lock": True,
        "footer_links": ["gradio", "settings"],
        "share": False,
        "ssr_mode": False,
        "inbrowser": False,
        "enable_monitoring": False,
        "app_kwargs": {"middleware": [Middleware(LocalGuard, host=host)]},
    }


def _warm_up(assistant: Assistant) -> None:
    """Load the models in the background so that the first question does not wait as long."""
    try:
        assistant.embedder, assistant.llm  # noqa: B018
    except Exception:  # the first question reports the error to the user
        logger.exception("loading the models failed")
