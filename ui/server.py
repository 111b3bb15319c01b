"""What ``rag serve`` runs: the chat at ``/``, ``/api/``, ``/v1`` and ``/mcp``, behind one policy.

The one place that assembles the served interfaces (``build_server``) and runs them
(``serve``). Every request, to whichever interface, passes ``ui.policy.Policy`` first:
host and origin checks, authentication (``ui.access``: the token and the logins), failed-login
throttling and the body-size limit.

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
from collections.abc import AsyncIterator
from typing import Any

import click
import gradio as gr
from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from rag import Assistant
from rag.config import ServeSettings
from ui import access, render
from ui.api import create_api
from ui.app import build_app
from ui.guard import is_loopback
from ui.mcp_server import build_mcp
from ui.openai_api import create_openai_api
from ui.openai_api import error_response as openai_error
from ui.policy import Policy

logger = logging.getLogger(__name__)


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted (loopback only unless ``host`` says otherwise)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    uploads = None
    if not os.environ.get("GRADIO_TEMP_DIR"):  # uploads in a private folder, not /tmp/gradio
        uploads = tempfile.mkdtemp(prefix="newsqa-uploads-")
        os.environ["GRADIO_TEMP_DIR"] = uploads
    door = access.Access.from_env()
    if not door.required and not is_loopback(host):
        logger.warning(
            "serving on %s open to anyone: set %s=user:password or %s",
            host,
            access.AUTH_ENV,
            access.API_TOKEN_ENV,
        )
    import uvicorn

    app = build_server(assistant, host, port, list(door.logins), door.token)
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
    token: str | None = None,
) -> FastAPI:
    """The REST API (``ui.api``) with ``/v1``, ``/mcp`` and the chat at ``/``, behind one policy.

    ``/v1`` is the OpenAI-compatible API (``ui.openai_api``), ``/mcp`` the MCP tools over
    streamable HTTP (``ui.mcp_server``); all of them share the API's model slots. The door
    policy (``ui.policy.Policy``) is added last, around the whole app, so it covers every
    route: those of the API, both doors, the chat (pages, the Gradio API and queue, files)
    and any interface mounted here later. ``auth`` are the logins and ``token`` the API token
    (default: ``$NEWSQA_AUTH``, ``$NEWSQA_API_TOKEN``); with either set, every route but
    ``/api/health`` and the login page needs one of them (``/login`` turns a login into a
    session cookie for the browser).

    Example:
        >>> uvicorn.run(build_server(Assistant.from_config()), port=7860)
    """
    settings = assistant.settings
    limits = settings.serve
    app = create_api(assistant, settings)
    slots = app.state.model_slots  # every door shares the API's model slots
    app.mount("/v1", create_openai_api(assistant, slots=slots))
    mcp = build_mcp(assistant, slots=slots)
    # The policy checks Host and Origin for every route (the SDK's own check is off), and
    # the session manager runs for as long as the server does.
    mcp.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.append(Route("/mcp", StreamableHTTPASGIApp(mcp.session_manager)))
    app.router.lifespan_context = _running(app.router.lifespan_context, mcp)
    demo = build_app(assistant).queue(max_size=limits.queue_size, default_concurrency_limit=4)
    launch = launch_options(host, port, limits)
    options = {k: v for k, v in launch.items() if k in _MOUNT_OPTIONS}
    gr.mount_gradio_app(app, demo, path="/", **options)
    # Last: outside every route above, and any added to ``app`` before it serves.
    door = access.Access.from_env(auth, token)
    app.add_middleware(
        Policy,
        access=door,
        settings=settings,
        host=host,
        json_paths=["/api", "/mcp"],  # refusals there are {"error": message}, like the API's
        refusals={"/v1": openai_error},  # OpenAI's shape, which OpenAI clients read
    )
    return app


def _running(lifespan: Any, mcp: MCPServer) -> Any:
    """``lifespan`` with the MCP session manager running inside it."""

    @contextlib.asynccontextmanager
    async def both(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state, mcp.session_manager.run():
            yield state

    return both


# What mount_gradio_app takes of launch_options.
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


def launch_options(host: str, port: int, limits: ServeSettings | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch``: no share link, no extra served paths.

    No ``/monitoring`` (Gradio enables it by default: ``/monitoring/summary`` lists every
    function's traffic to anyone). No Gradio login: logins are the door policy's
    (``ui.policy``), which covers the chat and everything else alike.
    """
    limits = limits or ServeSettings()
    return {
        "server_name": host,
        "server_port": port,
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
    }


def _warm_up(assistant: Assistant) -> None:
    """Load the models in the background so that the first question does not wait as long."""
    try:
        assistant.embedder, assistant.llm  # noqa: B018
    except Exception:  # the first question reports the error to the user
        logger.exception("loading the models failed")
