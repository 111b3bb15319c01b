"""The naive tutorial RAG pipeline: the baseline the benchmarks measure ours against.

``RecursiveCharacterTextSplitter(1000, 200)`` chunks of ``title + "\\n\\n" + text`` in their
own Chroma collection (embedded by the same embedder), dense top-4, the stock "Use the
following pieces of context..." prompt and the same chat model. It knows nothing of dates
(an article published after the question's date can be retrieved), verifies nothing and has
no abstention rule: it refuses when the model itself says it does not know.

``NaivePipeline.stream`` yields ``Token`` events and then an ``Answer``, as
``Assistant.stream`` does, so one scoring code (``rag.eval.predict``) scores both pipelines:
``Answer.retrieved`` holds the four chunks (their articles are its ranking), ``passages``
the same four chunks (the model reads them whole), and ``citations`` the chunks its ``[n]``
markers point at, if it writes any (the prompt does not number the chunks, so it seldom
does). Chunk offsets are into ``title + "\\n\\n" + text``, not into the article text.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the repository on sys.path when run from anywhere)

from rag.answer import citation_for
from rag.text import is_refusal
from rag.types import Answer, Hit, Passage, Token

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
K = 4
TEMPLATE = (
    "Use the following pieces of context to answer the question at the end. If you don't know "
    "the answer, just say that you don't know, don't try to make up an answer.\n\n{context}\n\n"
    "Question: {question}\nHelpful Answer:"
)
DESCRIPTION = {
    "splitter": f"RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP})",
    "retrieval": f"dense top-{K} chunks (same embedder, own Chroma collection), no dates",
    "prompt": TEMPLATE,
    "refusal": "the model says it does not know (no verification, no abstention rule)",
}
REFUSED = "the model said it does not know"
_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_DONT_KNOW = re.compile(
    r"\b(don'?t|do not|doesn'?t|does not) (know|say|mention|provide)\b"
    r"|\bnot (mentioned|provided|specified|stated)\b|\bno information\b"
    r"|\bcannot (be )?(answer|determine)",
    re.IGNORECASE,
)


def refused(text: str) -> bool:
    """Whether the naive pipeline's reply says it does not know."""
    return bool(_DONT_KNOW.search(text)) or is_refusal(text)


def cited_numbers(text: str, k: int) -> list[int]:
    """The chunk numbers (1..k) of the ``[n]`` markers in ``text``, first mention first."""
    found = (int(n) for group in _MARKERS.findall(text) for n in re.split(r"\s*[,;]\s*", group))
    return list(dict.fromkeys(n for n in found if 1 <= n <= k))


class NaivePipeline:
    """The tutorial chain over its own chunks (see the module docstring).

    Example:
        >>> naive = NaivePipeline.build(Path("corpus.jsonl"), embedder, chat, Path("/tmp/x"))
        >>> naive.ask("When did the bridge open?").retrieved[0].doc_id
    """

    def __init__(self, store: Any, chat: Any, model: str = "", k: int = K, chunks: int = 0) -> None:
        """Ask over ``store`` (a langchain ``Chroma`` of ``chunks`` chunks) with ``chat``."""
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import PromptTemplate

        self.store, self.k, self.model, self.chunks = store, k, model, chunks
        self.chain = None  # without a chat model, retrieval only (``search``)
        if chat is not None:
            self.chain = PromptTemplate.from_template(TEMPLATE) | chat | StrOutputParser()

    @classmethod
    def build(cls, corpus: Path, embedder: Any, chat: Any, folder: Path) -> NaivePipeline:
        """Split and embed a JSONL corpus into a Chroma collection under ``folder``.

        ``chat`` None builds the retrieval half only (``search``).
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        docs = []
        with open(corpus, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    meta = {
                        "doc_id": r["doc_id"],
                        "title": r.get("title") or "",
                        "url": r.get("url") or "",
                        "published": r.get("published") or "",
                    }
                    text = f"{r.get('title') or ''}\n\n{r['text']}"
                    docs.append(Document(page_content=text, metadata=meta))
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
        )
        splits = splitter.split_documents(docs)
        client = chromadb.PersistentClient(
            path=str(folder / "naive-chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        store = Chroma(collection_name="naive", embedding_function=embedder, client=client)
        seen: dict[str, int] = {}
        for i in range(0, len(splits), 256):
            batch = splits[i : i + 256]
            ids = []
            for d in batch:
                n = seen[d.metadata["doc_id"]] = seen.get(d.metadata["doc_id"], -1) + 1
                ids.append(f"{d.metadata['doc_id']}:naive{n:05d}")
            store.add_documents(batch, ids=ids)
        name = getattr(chat, "model_path", None) or getattr(chat, "model_name", None)
        return cls(store, chat, model=str(name or type(chat).__name__), chunks=len(splits))

    def search(self, question: str) -> list[Hit]:
        """The dense top-k chunks, best first."""
        found = self.store.similarity_search_with_score(question, k=self.k)
        hits = []
        for doc, distance in found:
            m = doc.metadata
            start = int(m.get("start_index", 0))
            published = m.get("published") or None
            hits.append(
                Hit(
                    chunk_id=str(doc.id or f"{m['doc_id']}:naive"),
                    doc_id=m["doc_id"],
                    title=m.get("title", ""),
                    text=doc.page_content,
                    start=start,
                    end=start + len(doc.page_content),
                    # Chroma's default distance is squared L2; on unit vectors 1 - d/2 = cosine.
                    score=1.0 - float(distance) / 2,
                    dense=1.0 - float(distance) / 2,
                    url=m.get("url") or None,
                    published=date.fromisoformat(published) if published else None,
                    source="naive",
                )
            )
        return hits

    def stream(self, question: str) -> Iterator[Token | Answer]:
        """``Token``s as the model writes, then the ``Answer`` (as ``Assistant.stream``)."""
        assert self.chain is not None, "built without a chat model: search only"
        started = time.perf_counter()
        hits = self.search(question)
        timings = {"retrieve_s": round(time.perf_counter() - started, 4)}
        context = "\n\n".join(h.text for h in hits)
        pieces: list[str] = []
        for piece in self.chain.stream({"context": context, "question": question}):
            if not pieces and piece:
                timings["ttft_s"] = round(time.perf_counter() - started, 4)
            if piece:
                pieces.append(piece)
                yield Token(piece)
        timings["total_s"] = round(time.perf_counter() - started, 4)
        text = "".join(pieces).strip()
        passages = [Passage(i, h, h.text, h.start, h.end) for i, h in enumerate(hits, 1)]
        citations = [citation_for(passages[n - 1]) for n in cited_numbers(text, len(passages))]
        no = refused(text)
        yield Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=no,
            abstain_reason=REFUSED if no else None,
            retrieved=hits,
            timings=timings,
            model=self.model,
            passages=passages,
        )

    def ask(self, question: str) -> Answer:
        """The final ``Answer`` of ``stream``."""
        result = None
        for event in self.stream(question):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result
