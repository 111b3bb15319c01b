"""Load articles from files and folders: paths -> ``Article`` values (no splitting here).

Supported: ``.txt``/``.md``, ``.html``/``.htm`` (main text via trafilatura), ``.pdf`` (pypdf)
and ``.json``/``.jsonl`` records ``{doc_id, title, published, url, text}``. Anything that
cannot be read becomes a ``LoadFailure`` with a reason; the rest of the batch goes on.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dateutil import parser as dateparser

from rag.config import IngestSettings
from rag.types import Article

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".json", ".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | {".pdf"}
DEFAULT_MAX_FILE_BYTES = IngestSettings().max_file_bytes  # the [ingest] max_file_mb default

# Invisible characters that change how text reads without being seen: zero-width, every
# bidi control (the "Trojan Source" set, with U+061C), invisible operators, and the tag
# characters U+E0000-E007F, which spell hidden ASCII that a model can read ("ASCII smuggling").
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x200E, 0x200F, 0x061C, 0x180E]
    + list(range(0x202A, 0x202F))
    + list(range(0x2061, 0x2065))
    + list(range(0x2066, 0x2070))
    + list(range(0xFFF9, 0xFFFC))
    + list(range(0xE0000, 0xE0080))
)
_DATE_LINE = re.compile(
    r"^\s*(?:date|published|dated?|posted)?\s*[:\-]?\s*"
    r"(\d{4}-\d{2}(?:-\d{2})?|\w+\.? \d{1,2},? \d{4}|\d{1,2} \w+ \d{4})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LoadFailure:
    """A file or record that could not be loaded, and why."""

    path: str
    reason: str


def iter_load(
    paths: Iterable[str | Path], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Iterator[Article | LoadFailure]:
    """Yield articles (and failures) from files and folders, folders recursively."""
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield LoadFailure(str(raw), "no such file or folder")
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
            for file in files:
                yield from _load_file(file, max_file_bytes)
        else:
            yield from _load_file(path, max_file_bytes)


def load(paths: Iterable[str | Path]) -> tuple[list[Article], list[LoadFailure]]:
    """Load everything at once: (articles, failures)."""
    articles: list[Article] = []
    failures: list[LoadFailure] = []
    for item in iter_load(paths):
        (failures if isinstance(item, LoadFailure) else articles).append(item)  # type: ignore[arg-type]
    return articles, failures


def clean_text(text: str) -> str:
    """Normalise to NFC, unify newlines and drop invisible/bidi control characters."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_INVISIBLE)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def parse_date(value: Any) -> date | None:
    """A date from ISO strings, ``datetime``/``date`` objects or common written forms."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        parsed = dateparser.parse(str(value), default=datetime(2000, 1, 1))
    except (ValueError, OverflowError):
        return None
    return parsed.date() if parsed and 1800 < parsed.year < 2200 else None


def make_doc_id(*, url: str | None = None, path: Path | None = None) -> str:
    """A stable id derived from the url (preferred) or the file's absolute path."""
    key = url or str(path.resolve() if path else "")
    stem = re.sub(r"[^a-z0-9]+", "-", (path.stem if path else "doc").lower()).strip("-")[:40]
    return f"{stem or 'doc'}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _load_file(path: Path, max_file_bytes: int) -> Iterator[Article | LoadFailure]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield LoadFailure(str(path), f"unsupported file type {suffix or '(none)'!r}")
        return
    try:
        size = path.stat().st_size
        if size == 0:
            raise _Unreadable("empty file")
        if size > max_file_bytes:
            raise _Unreadable(f"file too large ({size:,} bytes > {max_file_bytes:,})")
        if suffix == ".pdf":
            yield _check(_load_pdf(path), path)
        elif suffix in RECORD_SUFFIXES:
            yield from _load_records(path)
        else:
            raw = _read_text(path)
            loader = _load_html if suffix in HTML_SUFFIXES else _load_plain
            yield _check(loader(path, raw), path)
    except _Unreadable as ex:
        yield LoadFailure(str(path), str(ex))
    except OSError as ex:
        yield LoadFailure(str(path), f"cannot read: {ex.strerror or ex}")


class _Unreadable(Exception):
    pass


def _check(article: Article, path: Path) -> Article:
    if not article.text.strip():
        raise _Unreadable("no text found")
    return article


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Windows "Unicode" text
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as ex:
            raise _Unreadable(f"not valid UTF-16 (byte {ex.start})") from ex
    if b"\x00" in data[:8192]:
        raise _Unreadable("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        raise _Unreadable(f"not valid UTF-8 (byte {ex.start})") from ex


def _load_plain(path: Path, raw: str) -> Article:
    """Title from the first line (or ``# heading``); an optional date line right after it."""
    lines = clean_text(raw).split("\n")
    head = [i for i, line in enumerate(lines) if line.strip()][:3]
    title, published, body_from = path.stem, None, 0
    for i in head:
        line = lines[i].strip()
        match = _DATE_LINE.match(line)
        if published is None and match and (when := parse_date(match.group(1))):
            published, body_from = when, i + 1
        elif i == head[0] and len(line) <= 200 and _looks_like_title(line, lines, i):
            title, body_from = line.lstrip("#").strip(), i + 1
        else:
            break
    text = "\n".join(lines[body_from:]).strip()
    return Article(make_doc_id(path=path), title, text, str(path), published=published)


def _looks_like_title(line: str, lines: list[str], i: int) -> bool:
    """A markdown heading, or a short first line followed by more text."""
    if line.startswith("#"):
        return True
    return not line.endswith((".", ",", ";")) and any(x.strip() for x in lines[i + 1 :])


def _load_html(path: Path, raw: str) -> Article:
    import trafilatura  # heavy import; only needed for HTML

    doc = trafilatura.bare_extraction(
        _without_hidden(raw), with_metadata=True, include_comments=False
    )
    meta = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    text = clean_text(meta.get("text") or "")
    url = meta.get("url")
    return Article(
        make_doc_id(url=url, path=path),
        clean_text(meta.get("title") or path.stem),
        text,
        str(path),
        url=url,
        published=parse_date(meta.get("date")),
    )


_STYLE = "translate(@style, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ ', 'abcdefghijklmnopqrstuvwxyz')"
_HIDDEN_XPATH = (
    f"//template | //*[@hidden] | //*[contains({_STYLE}, 'display:none')]"
    f" | //*[contains({_STYLE}, 'visibility:hidden')]"
)


def _without_hidden(raw: str) -> str:
    """The page without what a browser never shows: ``<template>``, ``hidden``, hidden styles.

    trafilatura drops scripts, but keeps ``<template>`` and ``hidden`` elements, and its
    fallback extractors keep ``display:none`` blocks too; hidden text is where a hostile page
    puts instructions for the model.
    """
    if "<template" not in raw.lower() and "hidden" not in raw.lower():
        return raw
    from lxml import etree
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(raw)
    except (ValueError, etree.ParserError):  # let trafilatura deal with what lxml rejects
        return raw
    for element in tree.xpath(_HIDDEN_XPATH):
        element.drop_tree()
    return lxml_html.tostring(tree, encoding="unicode")


def _load_pdf(path: Path) -> Article:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        info: Any = reader.metadata or {}
    except OSError:
        raise
    except Exception as ex:  # a corrupt PDF can make pypdf raise almost anything
        raise _Unreadable(f"unreadable PDF ({type(ex).__name__}: {ex})") from ex
    text = clean_text("\n\n".join(p.strip() for p in pages)).strip()
    title = str(info.get("/Title") or "").strip() or path.stem
    published = _pdf_date(info.get("/CreationDate"))
    return Article(make_doc_id(path=path), clean_text(title), text, str(path), published=published)


def _pdf_date(value: Any) -> date | None:
    match = re.match(r"D:(\d{4})(\d{2})(\d{2})", str(value or ""))
    return date(*map(int, match.groups())) if match else None


def _load_records(path: Path) -> Iterator[Article | LoadFailure]:
    raw = _read_text(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as ex:
            raise _Unreadable(f"invalid JSON: {ex.msg} (line {ex.lineno})") from ex
        numbered = enumerate(data if isinstance(data, list) else [data], 1)
        records: Iterator[tuple[str, Any]] = ((f"{path}[{i}]", rec) for i, rec in numbered)
    else:
        records = _jsonl(path, raw)
    for where, record in records:
        if isinstance(record, LoadFailure):
            yield record
            continue
        try:
            yield _record_article(record, path)
        except _Unreadable as ex:
            yield LoadFailure(where, str(ex))


def _jsonl(path: Path, raw: str) -> Iterator[tuple[str, Any]]:
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as ex:
            yield where, LoadFailure(where, f"invalid JSON: {ex.msg}")


def _record_article(record: Any, path: Path) -> Article:
    if not isinstance(record, dict):
        raise _Unreadable("a record must be a JSON object")
    text = clean_text(str(record.get("text") or "")).strip()
    if not text:
        raise _Unreadable("record has no 'text'")
    url = record.get("url") or None
    # Ids are shown by `rag list` and typed into `rag delete`: no control, invisible or
    # bidi characters, no line breaks.
    doc_id = " ".join(clean_text(str(record.get("doc_id") or record.get("id") or "")).split())
    title = clean_text(str(record.get("title") or "")).strip() or text.split("\n", 1)[0][:120]
    return Article(
        doc_id or make_doc_id(url=url or hashlib.sha1(text.encode()).hexdigest(), path=path),
        title,
        text,
        str(path),
        url=url,
        published=parse_date(record.get("published") or record.get("date")),
    )
