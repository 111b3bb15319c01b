"""The one home of language rules: every other module asks this one.

Each rule is written once here, so retrieval, context, verification and the UI cannot
drift apart.
"""

from __future__ import annotations

import re

# ---- keywords (query_terms, stopwords) ----

STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i if "
    "in into is it its me my no not of on or our she so than that the their them then there "
    "these they this to was we were what when where which who whom why will with would you "
    "your about after again also any because before being between both can could each few "
    "more most other over same should some such through under until very while week year".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Lowercased keywords of a query, without stop words, in order, each once.

    Example:
        >>> query_terms("When did the Harbour Bridge open? The bridge!")
        ['harbour', 'bridge', 'open']
    """
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if (len(word) > 1 or word.isdigit()) and word not in STOPWORDS:
            seen.setdefault(word.replace("_", ""), None)
    return [w for w in seen if w]
