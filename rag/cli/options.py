"""What the ``rag`` commands share: building the ``Assistant`` from options, and dates."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from rag.assistant import Assistant
from rag.errors import RagError

F = TypeVar("F", bound=Callable[..., Any])
DATE = click.DateTime(formats=["%Y-%m-%d"])


def assistant_options(func: F) -> F:
    """``--store``/``--store-url``/``--config``/``-v``, turned into an ``assistant`` argument."""

    @click.option(
        "--store",
        "store",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="NEWSQA_STORE",
        help="Store directory (default: $NEWSQA_STORE or the user data dir).",
    )
    @click.option(
        "--store-url",
        "store_url",
        envvar="NEWSQA_STORE_URL",
        metavar="URL",
        help="A Chroma server (http://host:port of `chroma run`) to use instead of "
        "the local store; --store then only holds its BM25 cache.",
    )
    @click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="NEWSQA_CONFIG",
        help="Config TOML (default: configs/default.toml).",
    )
    @click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
    @functools.wraps(func)
    def wrapper(
        store: Path | None, store_url: str | None, config: Path | None, verbose: int, **kwargs: Any
    ) -> Any:
        level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        try:
            overrides = {"store": {"path": store, "url": store_url or None}}
            assistant = Assistant.from_config(config, **overrides)
            return func(assistant=assistant, **kwargs)
        except (RagError, FileNotFoundError) as ex:
            raise click.ClickException(str(ex)) from ex
        except ValidationError as ex:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in ex.errors())
            raise click.ClickException(f"invalid config: {problems}") from ex

    return wrapper  # type: ignore[return-value]


def day(value: datetime | None) -> date | None:
    """The date of a ``DATE`` option's value."""
    return value.date() if value else None


def iso(value: date | None) -> str:
    """A date as YYYY-MM-DD ("undated" for none)."""
    return value.isoformat() if value else "undated"
