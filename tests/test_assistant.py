"""The Assistant end to end: real embedder and Chroma, scripted chat model."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fakes import QuotingChatModel

from rag import Answer, Assistant, EmptyStoreError, Token
from rag.errors import InvalidQuestionError
from rag.store import LocalStore

DATA = Path(__file__).parent / "data" / "articles"
TODAY = date(2024, 12, 1)  # after every test article


def without_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text).strip()


def source_of(assistant: Assistant, doc_id: str) -> str:
    stored = assistant.store.article(doc_id)
    assert stored is not None
    return Path(stored.source).name


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did the Harbour Bridge open?", "bridge.md"),
        ("Which bakery won the sourdough award?", "bakery.txt"),
        ("Who scored in the cup final?", "football.html"),
    ],
)
def test_retrieval_ranks_the_right_article_first(make_assistant, question, expected):
    assistant = make_assistant()
    hits = assistant.retrieve(question, today=TODAY)
    assert source_of(assistant, hits[0].doc_id) == expected
    assert hits[0].dense is not None and hits[0].dense > 0.4


def test_ask_cites_the_retrieved_passage(make_assistant):
    assistant = make_assistant("The Harbour Bridge opened to traffic on Tuesday morning [1].")

    ans = assistant.ask("When did the Harbour Bridge open?", today=TODAY)

    assert not ans.abstained and ans.abstain_reason is None
    assert "[1]" in ans.text
    assert without_markers(ans.text) == "The Harbour Bridge opened to traffic on Tuesday morning."
    (citation,) = ans.citations
    assert citation.n == 1
    retrieved = {h.chunk_id: h for h in ans.retrieved}
    assert citation.chunk_id in retrieved
    assert citation.doc_id == retrieved[citation.chunk_id].doc_id
    assert source_of(assistant, citation.doc_id) == "bridge.md"
    assert citation.title == "Harbour Bridge opens to traffic after six years of work"
    assert citation.published == date(2024, 3, 12)
    stored = assistant.store.article(citation.doc_id)
    assert stored is not None and stored.text[citation.start : citation.end] == citation.quote
    assert "opened to traffic on Tuesday morning" in citation.quote
    assert ans.question == "When did the Harbour Bridge open?"


def test_every_citation_maps_to_a_retrieved_chunk(settings, embedder):
    llm = QuotingChatModel(phrases=["opened to traffic", "best sourdough loaf"])
    assistant = Assistant(settings, llm=llm, embedder=embedder)
    assistant.ingest([DATA])

    ans = assistant.ask(
        "When did the Harbour Bridge open, and which bakery made the best sourdough loaf?",
        today=TODAY,
    )

    assert llm.calls == 1
    assert not ans.abstained, ans.abstain_reason
    assert len(ans.citations) == 2
    assert [source_of(assistant, c.doc_id) for c in ans.citations] == ["bridge.md", "bakery.txt"]
    for c in ans.citations:
        assert f"[{c.n}]" in ans.text
    retrieved = {h.chunk_id: h for h in ans.retrieved}
    for c in ans.citations:
        assert c.chunk_id in retrieved and c.doc_id == retrieved[c.chunk_id].doc_id
        stored = assistant.store.article(c.doc_id)
        assert stored is not None and stored.text[c.start : c.end] == c.quote


def test_stream_yields_tokens_then_the_answer(make_assistant):
    reply = "Riverside Rovers beat Northgate United 3-1 [1]."
    assistant = make_assistant(reply)

    events = list(assistant.stream("Who won the cup final?", today=TODAY))

    *tokens, final = events
    assert len(tokens) > 1 and all(isinstance(t, Token) for t in tokens)
    assert "".join(t.text for t in tokens) == reply
    assert isinstance(final, Answer) and without_markers(final.text) == without_markers(reply)
    assert source_of(assistant, final.citations[0].doc_id) == "football.html"
    assert set(final.timings) == {"retrieve_s", "ttft_s", "total_s"}
    assert 0 <= final.timings["retrieve_s"] <= final.timings["ttft_s"] <= final.timings["total_s"]


def test_empty_store_raises(make_assistant):
    assistant = make_assistant(ingest=False)
    with pytest.raises(EmptyStoreError, match="rag ingest"):
        assistant.ask("When did the bridge open?")


@pytest.mark.parametrize("question", ["", "   \n ", "x" * 2001])
def test_invalid_questions(make_assistant, question):
    with pytest.raises(InvalidQuestionError):
        make_assistant().ask(question)


@pytest.mark.parametrize(
    "question",
    ["What is the boiling point of mercury?", "How do I configure a Kubernetes ingress?"],
)
def test_unrelated_question_abstains_without_calling_the_llm(make_assistant, question):
    assistant = make_assistant()  # no scripted replies: a call to the LLM would fail

    ans = assistant.ask(question, today=TODAY)

    assert ans.abstained
    assert "similarity" in (ans.abstain_reason or "")
    assert ans.citations == [] and ans.text
    assert "ttft_s" not in ans.timings


def test_model_refusal_is_an_abstention(make_assistant):
    # "Don't know" twice: after the passages first shown, and after the next-best ones.
    assistant = make_assistant("The articles don't say.", "The articles don't say.")
    ans = assistant.ask("When did the bridge open?", today=TODAY)
    assert ans.abstained and ans.citations == []
    assert "no answer" in (ans.abstain_reason or "")


def test_unsupported_answer_is_an_abstention_after_one_retry(make_assistant):
    assistant = make_assistant("It opened in 1932 [7].", "In 1931 [1].")
    ans = assistant.ask("When did the bridge open?", today=TODAY)
    assert ans.abstained and ans.citations == []
    assert "supported" in (ans.abstain_reason or "")
    assert "1932" not in ans.text and "1931" not in ans.text
    assert ans.timings["retry_s"] >= 0  # the second try is timed


def test_a_non_answer_is_retried_for_the_kind_asked(make_assistant):
    question = "How long is the Harbour Bridge?"
    restated = "The Harbour Bridge is long [1]."  # supported, but no number
    assistant = make_assistant(restated, "It is 1,240 metres long [1].")
    ans = assistant.ask(question, today=TODAY)
    assert not ans.abstained
    assert "1,240 metres" in ans.text and ans.citations
    assert "retry_s" in ans.timings


def test_a_non_answer_after_the_retry_is_refused_with_the_kind(make_assistant):
    restated = "The Harbour Bridge is long [1]."
    ans = make_assistant(restated, restated).ask("How long is the Harbour Bridge?", today=TODAY)
    assert ans.abstained
    assert ans.abstain_reason == (
        "no sentence of the model's answer gives what was asked (the number with its unit)"
    )
    assert restated.replace(" [1]", "") in ans.unsupported


def test_a_right_first_answer_is_not_retried(make_assistant):
    ans = make_assistant("It is 1,240 metres long [1].").ask(
        "How long is the Harbour Bridge?", today=TODAY
    )  # a second model call would fail: one reply is scripted
    assert not ans.abstained and "retry_s" not in ans.timings


def test_retry_can_be_switched_off(make_assistant):
    assistant = make_assistant("The Harbour Bridge is long [1].")
    assistant.settings = assistant.settings.with_overrides(answer={"retry": False})
    ans = assistant.ask("How long is the Harbour Bridge?", today=TODAY)
    assert ans.abstained and "retry_s" not in ans.timings


def test_articles_after_today_are_never_retrieved(make_assistant):
    assistant = make_assistant()
    football = next(a.doc_id for a in assistant.list_articles() if a.title.startswith("Riverside"))
    question = "Who won the cup final between Riverside Rovers and Northgate?"

    before = assistant.retrieve(question, today=date(2024, 6, 14))
    on_the_day = assistant.retrieve(question, today=date(2024, 6, 15))

    assert football not in {h.doc_id for h in before}
    assert on_the_day[0].doc_id == football
    ans = assistant.ask(question, today=date(2024, 6, 14))  # LLM would fail if called
    assert ans.abstained and football not in {h.doc_id for h in ans.retrieved}


def test_since_and_until(make_assistant):
    assistant = make_assistant()
    question = "bridge bakery cup final"
    docs = {a.title.split()[0]: a.doc_id for a in assistant.list_articles()}
    since = assistant.retrieve(question, today=TODAY, since=date(2024, 4, 1))
    assert {h.doc_id for h in since} == {docs["Family"], docs["Riverside"]}
    until = assistant.retrieve(question, today=TODAY, until=date(2024, 4, 1))
    assert {h.doc_id for h in until} == {docs["Harbour"]}


def test_list_and_delete(make_assistant):
    assistant = make_assistant()
    articles = assistant.list_articles()
    assert [a.published for a in articles] == [date(2024, 6, 15), date(2024, 5, 2),
                                              date(2024, 3, 12)]  # fmt: skip
    assert all(a.chunks >= 1 for a in articles)
    assert assistant.delete(articles[0].doc_id)
    assert len(assistant.list_articles()) == 2


def test_collaborators_are_injected_not_loaded(settings, embedder, fake_llm):
    store = LocalStore(settings.store_path)
    llm = fake_llm()
    assistant = Assistant(settings, llm=llm, embedder=embedder, store=store)
    assert assistant.store is store and assistant.embedder is embedder and assistant.llm is llm
    assert assistant.model_name == "GenericFakeChatModel"
