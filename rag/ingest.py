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
import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dateutil import parser as dateparser

from rag.config import IngestSettings
from rag.errors import RagError
from rag.text import without_surrogates
from rag.types import FIRST_DAY, LAST_DAY, Article

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
    """Normalise to NFC, unify newlines and drop invisible/bidi control characters.

    A lone surrogate (``"\\ud800"`` in JSON, an undecodable byte of a file name) is not a
    character and cannot be stored or encoded: it becomes U+FFFD.
    """
    text = without_surrogates(text)
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
    if not isinstance(value, str | int | float):
        return None  # a list or an object is no date
    try:
        parsed = dateparser.parse(str(value)[:100], default=datetime(2000, 1, 1))
    except (ValueError, OverflowError, TypeError, ArithmeticError):
        return None
    return parsed.date() if parsed and FIRST_DAY <= parsed.date() <= LAST_DAY else None


def make_doc_id(*, url: str | None = None, path: Path | None = None) -> str:
    """A stable id derived from the url (preferred) or the file's absolute path."""
    key = url or str(path.resolve() if path else "")
    stem = re.sub(r"[^a-z0-9]+", "-", (path.stem if path else "doc").lower()).strip("-")[:40]
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{stem or 'doc'}-{digest}"


def _where(path: Path) -> str:
    """``path`` as text that can be stored and shown (undecodable bytes become U+FFFD)."""
    return clean_text(str(path))


def upload_name(name: str) -> str:
    """A safe file name for an upload: no directories, odd characters or leading dots."""
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload"
    return stem[-120:]


def stage_upload(folder: Path, name: str, data: bytes | Path) -> Path:
    """Write an upload as ``folder/name`` to be loaded from there; returns the path.

    Never writes through a link: whatever already has that name (a crash's leftover, a
    planted symlink) is removed first and the file is created anew (``O_EXCL``: a link put
    there meanwhile makes it fail instead). ``folder`` must be a real folder, not a link.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.is_symlink() or not folder.is_dir():
        raise RagError(f"{folder} must be a folder, not a link: refusing to write into it.")
    dest = folder / name
    try:
        found = os.lstat(dest)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(found.st_mode):
            raise RagError(f"{dest} is a folder: refusing to write over it.")
        dest.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(dest, flags, 0o600)
    except FileExistsError as ex:
        raise RagError(f"{dest} appeared while writing it: refusing to write through it.") from ex
    with os.fdopen(fd, "wb") as out:
        if isinstance(data, Path):
            with open(data, "rb") as source:
                shutil.copyfileobj(source, out)
        else:
            out.write(data)
    return dest


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _load_file(path: Path, max_file_bytes: int) -> Iterator[Article | LoadFailure]:
    """The articles of one file; whatever goes wrong is a failure of this file only."""
    try:
        yield from _load_checked(path, max_file_bytes)
    except Exception as ex:  # a loader's bug or a library's surprise must not end the batch
        logger.warning("cannot read %s", _where(path), exc_info=True)
        yield LoadFailure(_where(path), f"cannot be read ({type(ex).__name__}: {ex})"[:300])


def _load_checked(path: Path, max_file_bytes: int) -> Iterator[Article | LoadFailure]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield LoadFailure(_where(path), f"unsupported file type {suffix or '(none)'!r}")
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
        yield LoadFailure(_where(path), str(ex))
    except OSError as ex:
        yield LoadFailure(_where(path), f"cannot read: {ex.strerror or ex}")


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
    return Article(make_doc_id(path=path), title, text, _where(path), published=published)


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
    url = clean_text(meta["url"]) if isinstance(meta.get("url"), str) else None
    return Article(
        make_doc_id(url=url, path=path),
        clean_text(meta.get("title") or path.stem),
        text,
        _where(path),
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
    title = clean_text(title)
    return Article(make_doc_id(path=path), title, text, _where(path), published=published)


def _pdf_date(value: Any) -> date | None:
    match = re.match(r"D:(\d{4})(\d{2})(\d{2})", str(value or ""))
    try:
        day = date(*map(int, match.groups())) if match else None
    except ValueError:  # D:20241399: no such day
        return None
    return day if day and FIRST_DAY <= day <= LAST_DAY else None


def _load_records(path: Path) -> Iterator[Article | LoadFailure]:
    raw = _read_text(path)
    if path.suffix.lower() == ".json":
        data = _parse_json(raw)
        numbered = enumerate(data if isinstance(data, list) else [data], 1)
        records: Iterator[tuple[str, Any]] = ((f"{_where(path)}[{i}]", rec) for i, rec in numbered)
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
        except Exception as ex:  # one odd record is a failure of that record only
            logger.warning("cannot read %s", where, exc_info=True)
            yield LoadFailure(where, f"cannot be read ({type(ex).__name__}: {ex})"[:300])


def _parse_json(raw: str) -> Any:
    """A JSON document, or ``_Unreadable`` with the reason."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as ex:
        raise _Unreadable(f"invalid JSON: {ex.msg} (line {ex.lineno})") from ex
    except RecursionError as ex:  # [[[[...]]]]: deeper than Python's parser goes
        raise _Unreadable("invalid JSON: nested too deeply") from ex


def _jsonl(path: Path, raw: str) -> Iterator[tuple[str, Any]]:
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{_where(path)}:{lineno}"
        try:
            yield where, _parse_json(line)
        except _Unreadable as ex:
            yield where, LoadFailure(where, str(ex).split(" (line")[0])


def _record_article(record: Any, path: Path) -> Article:
    if not isinstance(record, dict):
        raise _Unreadable("a record must be a JSON object")
    text = clean_text(_field(record, "text", numbers=False)).strip()
    if not text:
        raise _Unreadable("record has no 'text'")
    url = clean_text(_field(record, "url", numbers=False)).strip() or None
    # Ids are shown by `rag list` and typed into `rag delete`: no control, invisible or
    # bidi characters, no line breaks.
    given = _field(record, "doc_id") or _field(record, "id")
    doc_id = " ".join(clean_text(given).split())
    title = clean_text(_field(record, "title")).strip() or text.split("\n", 1)[0][:120]
    return Article(
        doc_id or make_doc_id(url=url or hashlib.sha1(text.encode()).hexdigest(), path=path),
        title,
        text,
        _where(path),
        url=url,
        published=parse_date(record.get("published") or record.get("date")),
    )


def _field(record: dict[str, Any], key: str, numbers: bool = True) -> str:
    """A text field of a record ("" when missing); a number too where ``numbers``."""
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    kind = "a string" if not numbers else "a string or a number"
    raise _Unreadable(f"'{key}' must be {kind}, not {type(value).__name__}")
