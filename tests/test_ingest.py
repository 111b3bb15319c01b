"""Loading: each format, title/date extraction, and every kind of bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from rag.ingest import LoadFailure, clean_text, iter_load, load, make_doc_id, parse_date
from rag.types import Article

DATA = Path(__file__).parent / "data" / "articles"
SEED = Path(__file__).parent.parent / "seeds" / "2025-07-04-zelenskiy-trump-air-defences.txt"

PDF_LINES = [
    "The last lighthouse keeper on Gull Island retired on Friday.",
    "Edith Varga kept the light burning for 31 years.",
]

RECORDS = [
    {
        "doc_id": "rtqa-test-0001",
        "title": "Council approves new tram line",
        "published": "2022-09-26",
        "url": "https://example.org/news/tram",
        "authors": ["A. Writer"],
        "text": "The council approved a 9-kilometre tram line on Monday.\n\nWork starts in May.",
    },
    {
        "doc_id": "rtqa-test-0002",
        "title": "Zoo welcomes twin pandas",
        "published": "2022-10-03",
        "url": "https://example.org/news/pandas",
        "authors": [],
        "text": "Two giant panda cubs were born at the city zoo on Sunday.",
    },
]


def make_pdf(
    path: Path, lines: list[str] = PDF_LINES, title: str | None = "Keeper retires"
) -> Path:
    """A real one-page PDF with extractable text (matplotlib, TrueType fonts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    metadata: dict[str, object] = {"CreationDate": datetime(2023, 8, 9, tzinfo=UTC)}
    if title:
        metadata["Title"] = title
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path, metadata=metadata) as pdf:
        fig = plt.figure(figsize=(8.5, 11))
        for i, line in enumerate(lines):
            fig.text(0.05, 0.9 - 0.05 * i, line)
        pdf.savefig(fig)
        plt.close(fig)
    return path


def load_one(path: Path) -> Article:
    articles, failures = load([path])
    assert failures == []
    assert len(articles) == 1
    return articles[0]


def failures_of(paths: list[Path | str]) -> dict[str, str]:
    articles, failures = load(paths)
    assert articles == []
    return {f.path: f.reason for f in failures}


# ---- formats --------------------------------------------------------------------------------


def test_markdown_title_heading_and_date_line():
    article = load_one(DATA / "bridge.md")
    assert article.title == "Harbour Bridge opens to traffic after six years of work"
    assert article.published == date(2024, 3, 12)
    assert article.text.startswith("The new Harbour Bridge in Port Elling opened")
    assert "Published" not in article.text and "#" not in article.text
    assert article.source == str(DATA / "bridge.md")


def test_text_title_first_line_and_date_line():
    article = load_one(DATA / "bakery.txt")
    assert article.title == "Family bakery on Mill Street wins national bread award"
    assert article.published == date(2024, 5, 2)
    assert article.text.startswith("The Okafor family bakery")


def test_html_title_meta_date_and_main_text_only():
    article = load_one(DATA / "football.html")
    assert article.title == "Riverside Rovers win the cup final 3-1 against Northgate"
    assert article.published == date(2024, 6, 15)
    assert "Striker Tomas Brandt scored twice" in article.text
    assert "Copyright" not in article.text
    assert "<p>" not in article.text


def test_seed_article():
    article = load_one(SEED)
    assert article.title.startswith("Zelenskiy says")
    assert article.published == date(2025, 7, 4)
    assert "defending its cities from intensifying Russian air strikes" in article.text


def test_pdf_text_title_and_creation_date(tmp_path):
    article = load_one(make_pdf(tmp_path / "keeper.pdf"))
    assert article.title == "Keeper retires"
    assert article.published == date(2023, 8, 9)
    for line in PDF_LINES:
        assert line in article.text


def test_pdf_without_title_uses_file_name(tmp_path):
    assert load_one(make_pdf(tmp_path / "gull-island.pdf", title=None)).title == "gull-island"


def test_json_list_in_eval_corpus_format(tmp_path):
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(RECORDS))
    articles, failures = load([path])
    assert failures == []
    assert [a.doc_id for a in articles] == ["rtqa-test-0001", "rtqa-test-0002"]
    tram = articles[0]
    assert tram.title == "Council approves new tram line"
    assert tram.published == date(2022, 9, 26)
    assert tram.url == "https://example.org/news/tram"
    assert tram.text == RECORDS[0]["text"]


def test_jsonl_records_skip_blank_lines(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS).replace("\n", "\n\n") + "\n")
    articles, failures = load([path])
    assert failures == []
    assert [(a.doc_id, a.published) for a in articles] == [
        ("rtqa-test-0001", date(2022, 9, 26)),
        ("rtqa-test-0002", date(2022, 10, 3)),
    ]


def test_record_without_doc_id_or_title_gets_stable_ones(tmp_path):
    path = tmp_path / "bare.jsonl"
    path.write_text(json.dumps({"text": "Harvest festival draws record crowd.\nMore text."}))
    first, second = load_one(path), load_one(path)
    assert first.doc_id == second.doc_id
    assert first.title == "Harvest festival draws record crowd."


def test_folders_are_loaded_recursively_hidden_files_skipped(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "top.txt").write_text("Top story\nSomething happened at the top.")
    (tmp_path / "a" / "b" / "deep.md").write_text("# Deep story\nSomething happened deep down.")
    (tmp_path / ".hidden.txt").write_text("Hidden\nNot an article.")
    (tmp_path / ".git" / "config.txt").write_text("Git\nNot an article either.")
    articles, failures = load([tmp_path])
    assert failures == []
    assert sorted(a.title for a in articles) == ["Deep story", "Top story"]


def test_test_data_folder_has_three_formats():
    articles, failures = load([DATA])
    assert failures == []
    assert sorted(Path(a.source).suffix for a in articles) == [".html", ".md", ".txt"]
    assert len({a.doc_id for a in articles}) == 3


@pytest.mark.parametrize(
    "date_line",
    ["2024-03-12", "Published: 2024-03-12", "Date: 2024-03-12", "March 12, 2024", "12 March 2024"],
)
def test_date_line_forms(tmp_path, date_line):
    path = tmp_path / "story.txt"
    path.write_text(f"Harbour works finish early\n{date_line}\n\nThe works finished early.\n")
    article = load_one(path)
    assert article.published == date(2024, 3, 12)
    assert article.title == "Harbour works finish early"
    assert article.text == "The works finished early."


def test_first_line_that_is_a_sentence_is_not_a_title(tmp_path):
    path = tmp_path / "untitled-note.txt"
    path.write_text("The works finished early, officials said.\nMore details followed.\n")
    article = load_one(path)
    assert article.title == "untitled-note"
    assert article.published is None
    assert article.text.startswith("The works finished early")


def test_doc_id_is_stable_and_depends_on_path(tmp_path):
    a, b = tmp_path / "a" / "story.txt", tmp_path / "b" / "story.txt"
    assert make_doc_id(path=a) == make_doc_id(path=a)
    assert make_doc_id(path=a) != make_doc_id(path=b)
    assert make_doc_id(url="https://x.org/1", path=a) == make_doc_id(url="https://x.org/1", path=b)
    assert make_doc_id(path=a).startswith("story-")


def test_clean_text_drops_invisible_characters_and_unifies_newlines():
    assert clean_text("Zero\u200bwidth\r\nbidi\u202etext\x07") == "Zerowidth\nbiditext"
    assert clean_text("cafe\u0301") == "café"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-09-26", date(2022, 9, 26)),
        ("2022-09-26T18:30:00Z", date(2022, 9, 26)),
        ("September 26, 2022", date(2022, 9, 26)),
        (datetime(2022, 9, 26, 8), date(2022, 9, 26)),
        ("", None),
        (None, None),
        ("not a date", None),
        ("99999", None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


# ---- bad input --------------------------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected words in the reason)."""
    files = {
        "empty": ("empty.txt", b"", "empty file"),
        "binary": ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
        "latin1": ("latin1.txt", "Café prices rose.\nThe café".encode("latin-1"), "UTF-8"),
        "corrupt pdf": ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "unreadable PDF"),
        "unsupported": ("slides.pptx", b"PK\x03\x04 not for us", "unsupported file type"),
        "no extension": ("README", b"Just a readme", "unsupported file type"),
        "bad json": ("list.json", b'[{"text": "unterminated', "invalid JSON"),
        "empty html": ("empty.html", b"<html><head></head><body></body></html>", "no text"),
    }
    out = {}
    for name, (filename, content, reason) in files.items():
        path = tmp_path / filename
        path.write_bytes(content)
        out[name] = (path, reason)
    return out


def test_each_bad_file_is_reported_with_a_reason(tmp_path):
    bad = _bad_files(tmp_path)
    reasons = failures_of([path for path, _ in bad.values()])
    for name, (path, expected) in bad.items():
        assert expected in reasons[str(path)], name


def test_missing_path_is_reported(tmp_path):
    missing = tmp_path / "nope.txt"
    assert failures_of([missing]) == {str(missing): "no such file or folder"}


def test_too_large_file_is_reported(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("Big story\n" + "word " * 100)
    (failure,) = iter_load([path], max_file_bytes=100)
    assert isinstance(failure, LoadFailure)
    assert "too large" in failure.reason


def test_pdf_that_makes_the_parser_raise_anything_is_reported(tmp_path):
    # pypdf raises NotImplementedError for an unknown stream filter: it must not end the batch.
    path = make_pdf(tmp_path / "odd.pdf")
    data = path.read_bytes()
    assert b"/FlateDecode" in data
    path.write_bytes(data.replace(b"/FlateDecode", b"/FlateDecodX"))
    reasons = failures_of([path])
    assert "unreadable PDF" in reasons[str(path)]


def test_bad_records_are_reported_one_by_one(tmp_path):
    path = tmp_path / "corpus.jsonl"
    lines = [
        json.dumps(RECORDS[0]),
        '{"doc_id": "broken", "text": ',
        json.dumps({"doc_id": "no-text", "title": "Only a title"}),
        json.dumps(["not", "an", "object"]),
        json.dumps(RECORDS[1]),
    ]
    path.write_text("\n".join(lines) + "\n")
    articles, failures = load([path])
    assert [a.doc_id for a in articles] == ["rtqa-test-0001", "rtqa-test-0002"]
    reasons = {f.path: f.reason for f in failures}
    assert "invalid JSON" in reasons[f"{path}:2"]
    assert "no 'text'" in reasons[f"{path}:3"]
    assert "JSON object" in reasons[f"{path}:4"]


def test_json_that_is_not_an_object_or_list_is_reported(tmp_path):
    path = tmp_path / "scalar.json"
    path.write_text("42")
    assert failures_of([path]) == {f"{path}[1]": "a record must be a JSON object"}


def test_json_list_record_without_text_is_reported(tmp_path):
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps([RECORDS[0], {"doc_id": "x", "text": "   "}]))
    articles, failures = load([path])
    assert [a.doc_id for a in articles] == ["rtqa-test-0001"]
    assert failures == [LoadFailure(f"{path}[2]", "record has no 'text'")]


def test_bad_files_do_not_stop_the_batch(tmp_path, make_assistant):
    folder = tmp_path / "bad"
    folder.mkdir()
    bad = _bad_files(folder)
    (folder / "good.txt").write_text("Good story\nA good thing happened in the town.")
    missing = tmp_path / "missing.md"
    assistant = make_assistant(ingest=False)

    report = assistant.ingest([DATA, folder, missing])

    failed = dict(report.failed)
    assert set(failed) == {str(p) for p, _ in bad.values()} | {str(missing)}
    for path, expected in bad.values():
        assert expected in failed[str(path)]
    assert len(report.added) == 4
    store = assistant.store
    assert {a.title for a in store.list_articles()} >= {"Good story"}
    assert store.vector_ids() == store.chunk_ids()
    assert len(store.chunk_ids()) == store.count() == report.chunks
