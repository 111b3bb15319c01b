"""The one home of language rules: every other module asks this one.

Sentences, keywords, names, numbers, place forms, time expressions, markup, instructions
injected into articles, and what a news sentence states (its figures, days and names in a
role, and whether it reports an event: ``facts``, ``figures``, ``roles``, ``days``,
``events``) are all English news-style heuristics. Each rule is written once here, so
retrieval, context, verification, the gate, the news answers and the UI cannot drift
apart. The thresholds that tune how strictly a rule is applied live in ``rag.config``.
"""

from rag.text.asked import WANTED, Kind, answer_terms, asked_kind, lemma, mentions_asked
from rag.text.clauses import Value
from rag.text.days import human_date, time_words
from rag.text.encoding import has_surrogates, without_surrogates
from rag.text.events import eventfulness, revises
from rag.text.facts import (
    counting,
    frame_words,
    masked,
    periods,
    same_value,
    stated_days,
    subject_names,
    values,
    worldwide,
)
from rag.text.forms import Haystack, mentioned
from rag.text.instructions import is_instruction
from rag.text.markup import defang, strip_markup
from rag.text.names import (
    NUMBER,
    asks_quantity,
    has_digit,
    is_salient,
    names,
    normalise_numbers,
    plain_number,
    question_acronyms,
    question_figures,
    question_names,
    without_options,
)
from rag.text.refusal import is_refusal
from rag.text.roles import same_role
from rag.text.sentences import CLOSERS, SENTENCE_GAP, answer_sentences, split_sentences
from rag.text.time_expressions import Scope, TimeExpression, about_now, read_time
from rag.text.words import STOPWORDS, occurs, query_terms, same_stem, stem, words

__all__ = [
    "CLOSERS",
    "Haystack",
    "Kind",
    "NUMBER",
    "SENTENCE_GAP",
    "STOPWORDS",
    "Scope",
    "TimeExpression",
    "WANTED",
    "Value",
    "about_now",
    "answer_terms",
    "answer_sentences",
    "asked_kind",
    "asks_quantity",
    "counting",
    "defang",
    "eventfulness",
    "frame_words",
    "has_digit",
    "has_surrogates",
    "human_date",
    "is_instruction",
    "is_refusal",
    "is_salient",
    "lemma",
    "masked",
    "mentions_asked",
    "mentioned",
    "names",
    "normalise_numbers",
    "occurs",
    "periods",
    "plain_number",
    "query_terms",
    "question_acronyms",
    "question_figures",
    "question_names",
    "read_time",
    "revises",
    "same_role",
    "same_stem",
    "same_value",
    "split_sentences",
    "stated_days",
    "stem",
    "strip_markup",
    "subject_names",
    "time_words",
    "values",
    "without_options",
    "without_surrogates",
    "words",
    "worldwide",
]
