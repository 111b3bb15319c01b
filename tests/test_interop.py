"""LangChain interop: the retriever and the answer runnable, used from plain LCEL code."""

from __future__ import annotations

from datetime import date

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel, RunnablePassthrough

from rag import Answer
from rag.errors import InvalidQuestionError

TODAY = date(2024, 12, 1)  # after every test article
BRIDGE_REPLY = "The Harbour Bridge opened to traffic on Tuesday morning [1]."


def titles(docs: list[Document]) -> list[str]:
    return [d.metadata["title"] for d in docs]


def test_retriever_returns_documents_with_our_metadata(make_assistant):
    assistant = make_assistant()
    retriever = assistant.as_retriever(k=3, today=TODAY)
    assert isinstance(retriever, BaseRetriever)

    docs = retriever.invoke("When did the Harbour Bridge open?")

    assert 1 <= len(docs) <= 3
    top = docs[0]
    assert top.metadata["title"] == "Harbour Bridge opens to traffic after six years of work"
    assert top.metadata["published"] == "2024-03-12"
    assert top.id == top.metadata["chunk_id"]
    assert set(top.metadata) >= {"doc_id", "title", "url", "published", "chunk_id", "score"}
    hit = assistant.retrieve("When did the Harbour Bridge open?", k=3, today=TODAY)[0]
    assert top.page_content == hit.text and top.metadata["score"] == hit.score
    stored = assistant.store.article(top.metadata["doc_id"])
    assert stored is not None
    assert stored.text[top.metadata["start"] : top.metadata["end"]] == top.page_content


def test_retriever_composes_in_an_lcel_chain(make_assistant):
    retriever = make_assistant().as_retriever(k=2, today=TODAY)
    prompt = RunnableParallel(
        context=retriever | RunnableLambda(lambda docs: "\n\n".join(d.page_content for d in docs)),
        question=RunnablePassthrough(),
    ) | RunnableLambda(lambda x: f"Context:\n{x['context']}\n\nQuestion: {x['question']}")

    bridge, bakery = prompt.batch(
        ["When did the Harbour Bridge open?", "Which bakery won the sourdough award?"]
    )

    assert "cable-stayed" in bridge or "Tuesday morning" in bridge
    assert "sourdough" in bakery and bakery.endswith("Which bakery won the sourdough award?")
    assert titles((retriever | RunnableLambda(list)).invoke("sourdough bakery award"))[0] == (
        "Family bakery on Mill Street wins national bread award"
    )


def test_retriever_overrides_are_validated(make_assistant):
    assistant = make_assistant(ingest=False)
    with pytest.raises(ValueError, match="kk"):
        assistant.as_retriever(kk=3)
    # today caps what may be retrieved: nothing was published before 2000
    assert make_assistant().as_retriever(today=date(2000, 1, 1)).invoke("bridge") == []


def test_runnable_answers_like_ask(make_assistant):
    chain = make_assistant(BRIDGE_REPLY).as_runnable()
    assert isinstance(chain, Runnable)

    ans = chain.invoke({"question": "When did the Harbour Bridge open?", "today": "2024-12-01"})

    assert isinstance(ans, Answer) and not ans.abstained
    (citation,) = ans.citations
    assert citation.title == "Harbour Bridge opens to traffic after six years of work"
    assert "Tuesday morning" in citation.quote


def test_runnable_batches_and_composes(make_assistant):
    chain = make_assistant(BRIDGE_REPLY, BRIDGE_REPLY).as_runnable()
    question = "When did the Harbour Bridge open?"
    texts = (chain | RunnableLambda(lambda a: a.text)).batch(
        [question, {"question": question, "today": TODAY, "k": 3}],
        config={"max_concurrency": 1},
    )
    assert texts == [BRIDGE_REPLY, BRIDGE_REPLY]
    # .stream yields the finished Answer (token streaming is Assistant.stream)
    # "Don't know", then again over the next-best passages (answer.look_further).
    refusing = make_assistant("The articles don't say.", "The articles don't say.").as_runnable()
    (only,) = list(refusing.stream("Who won the 1850 chess final?"))
    assert isinstance(only, Answer) and only.abstained


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"query": "x"}, "'question' string"),
        ({"question": "x", "k": 3, "temperature": 0}, "temperature"),
        ({"question": "x", "today": "yesterday"}, "YYYY-MM-DD"),
        (42, "'question' string"),
    ],
)
def test_runnable_rejects_bad_input(make_assistant, value, message):
    chain = make_assistant(ingest=False).as_runnable()
    with pytest.raises(InvalidQuestionError, match=message):
        chain.invoke(value)
