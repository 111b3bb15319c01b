"""The one home of language rules: every other module asks this one.

Sentences, keywords, names, numbers, place forms, time expressions, markup and
instructions injected into articles are all English news-style heuristics. Each rule is
written once here, so retrieval, context, verification, the gate and the UI cannot drift
apart. The thresholds that tune how strictly a rule is applied live in ``rag.config``.
"""

from rag.text.encoding import has_surrogates, without_surrogates
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
from rag.text.sentences import CLOSERS, SENTENCE_GAP, answer_sentences, split_sentences
from rag.text.time_expressions import Scope, TimeExpression, read_time
from rag.text.words import STOPWORDS, occurs, query_terms, same_stem, words

__all__ = [
    "CLOSERS",
    "Haystack",
    "NUMBER",
    "SENTENCE_GAP",
    "STOPWORDS",
    "Scope",
    "TimeExpression",
    "answer_sentences",
    "asks_quantity",
    "has_digit",
    "defang",
    "has_surrogates",
    "is_instruction",
    "is_refusal",
    "is_salient",
    "mentioned",
    "names",
    "normalise_numbers",
    "occurs",
    "plain_number",
    "query_terms",
    "question_acronyms",
    "question_figures",
    "question_names",
    "read_time",
    "same_stem",
    "split_sentences",
    "strip_markup",
    "without_options",
    "without_surrogates",
    "words",
]
