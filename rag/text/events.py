"""What a news sentence is about (classes of quantities and events) and whether it reports one.

A figure or a day is compared with another only when what it counts agrees ("killed" vs
"injured" are different things), and a timeline keeps the sentences that report a dated
event rather than background or a quote.
"""

from __future__ import annotations

import re

from rag.text.days import time_words

# ---- what a figure counts: classes of news quantities and events --------------------------
# Matched case-sensitively (but for a sentence's first letter): "March" is a month, "march"
# a protest; capitalised words are names, not events.
_CLASSES: dict[str, str] = {
    "death": r"\b(kill\w*|dead|died|die|dies|deaths?|fatalit\w*|toll|lives|bodies)\b",
    "injury": r"\b(injur\w*|wound\w*|hurt)\b",
    "hospital_admitted": r"\b(taken to hospital|admitted|treated)\b",
    "hospital_now": r"\b(remains?|remained|still) in hospital\b|\bintensive care\b",
    "missing": r"\b(missing|unaccounted)\b",
    "arrest": r"\b(arrest\w*|detain\w*)\b",
    "evacuation": r"\bevacuat\w*\b",
    "rescue": r"\b(rescu\w*|survivors?)\b",
    "hostage": r"\bhostages?\b",
    "job_cut": r"\b(cut|cuts|axe|axed|shed|redundanc\w*|lay-?offs?|laid off)\b",
    "workforce": r"\b(employs?|employed|employing|workforce)\b",
    "protest": r"\b(march\w*|protest\w*|rall(y|ied)|demonstrat\w*)\b",
    "turnout": r"\b(turnout|took part)\b",
    "vote_share": r"\b(of the vote|vote share|share of)\b",
    "margin": r"\b(margin|majority)\b|\bby [\d,]+ votes\b",
    "magnitude": r"\bmagnitude\b",
    "area": r"\b(hectares|acres|square (kilometres|miles))\b",
    "recall": r"\brecall\w*\b",
    "damage": r"\b(damag\w*|destroy\w*)\b",
    "cost": r"\b(costs?|costing|price[ds]?|sells? for|spend\w*)\b",
    "fine": r"\b(fine|fined|penalt\w*)\b",
    "revenue": r"\b(revenue|sales|turnover|profits?)\b",
    "shares": r"\bshares\b",
    "cases": r"\bcases\b",
    "age": r"\b(year-old|aged)\b",
    "cancellation": r"\bcancel\w*\b",
    "closure": r"\bclosed\b",
    # what happens on a day
    "begin": r"\b(begin\w*|began|begun|start\w*|launch\w*|takes? effect|took effect|kick\w* "
    r"off|go on trial|broke out|breaks out)\b",
    "end": r"\b(end|ends|ended|ending|finish\w*|until|till|called off|conclud\w*)\b",
    "reopen": r"\breopen\w*\b",
    "resume": r"\bresum\w*\b",
    "hold": r"\b(held|hold|holds|take place|takes place|took place)\b",
    "sale": r"\bon sale\b",
    "arrival": r"\barriv\w*\b",
    "verdict": r"\b(guilty|acquitted|verdict|convicted)\b",
    "sentencing": r"\bsentenc\w*\b",
    "collapse": r"\bcollaps\w*\b",
}
# All classes in one pattern (one pass over a clause instead of one per class).
_ANY_CLASS = re.compile("|".join(f"(?P<{name}>{p})" for name, p in _CLASSES.items()))
_MOVED = re.compile(
    r"\b(moved|postponed|delayed|brought forward|rescheduled|pushed back|put back)\b", re.I
)
_REVISION = re.compile(
    r"\b(ris(en|es)|rose|climbed|revised|corrected|updated|widened|extended|increased|now"
    r"|moved|postponed|delayed|reduced|lowered|recount|brought forward|raised)\b",
    re.IGNORECASE,
)

# ---- does a sentence report an event? -------------------------------------------------------

_HAPPENED = re.compile(
    r"\b(announc\w*|began|begun|started|ended|extended|called off|collapsed|killed|died"
    r"|voted|accepted|rejected|agreed|signed|approved|launched|opened|reopened|closed|recall\w*"
    r"|widened|revised|rose|risen|fell|fallen|resigned|appointed|named|arrested|charged|struck"
    r"|hit|broke out|walked out|walk out|strike|returned|resumed|postponed|delayed|cancelled"
    r"|won|lost|fined|ordered|banned|evacuated|rescued|freed|suspended|halted|queuing|queued"
    r"|opened|investigat\w*|inquiry|apologised|raised|cut|injured|destroyed|burned|sank"
    r"|derailed|exploded|erupted|declared|passed|defeated|elected|sentenced|convicted"
    r"|discussed|met|spoke|called|warned|criticised|received|attacked|pounded|pummelled)\b",
    re.IGNORECASE,
)
_PERFECT = re.compile(r"\b(has|have|had) been \w+ed\b|\b(was|were) \w+ed\b|\bwill \w+\b", re.I)
_BACKGROUND = re.compile(
    r"\b(is|are) (the|a|an) (largest|biggest|main|only|oldest)\b|\bemploys\b|\bhas long\b"
    r"|\bwas founded\b|\busually\b|\btypically\b|\bevery year\b|\bhandles\b|\bsince (19|20)\d\d\b"
    r"|\bthe longest\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")


def event_classes(text: str) -> frozenset[str]:
    """What ``text`` is about, as classes of news quantities and events ("death", "begin")."""
    text = text.strip()
    text = text[:1].lower() + text[1:]
    return frozenset(m.lastgroup for m in _ANY_CLASS.finditer(text) if m.lastgroup)


def last_event_class(text: str) -> frozenset[str]:
    """The class of the last event word in ``text``: what happens on the day after it.

    "Tickets for the reopened museum go on sale on 12 May": ``sale``, not ``reopen``.
    """
    text = text[:1].lower() + text[1:]
    last = None
    for last in _ANY_CLASS.finditer(text):  # noqa: B007
        pass
    return frozenset([last.lastgroup]) if last is not None and last.lastgroup else frozenset()


def moves(text: str) -> bool:
    """Whether ``text`` moves something to another day ("has been postponed to")."""
    return bool(_MOVED.search(text))


def revises(sentence: str) -> bool:
    """Whether the sentence reports a revision ("has risen to", "revised", "postponed")."""
    return bool(_REVISION.search(sentence))


def eventfulness(sentence: str) -> float:
    """How much a sentence reads as a dated event (0: background or a quote; up to 1).

    Half for a verb of happening (past tense, passive, perfect or an announced "will"),
    half for an expression of time; background ("the mill employs about 600 people", "the
    longest since 1989") and direct quotes score 0.
    """
    if is_direct_speech(sentence) or _BACKGROUND.search(sentence):
        return 0.0
    happened = 0.5 if _HAPPENED.search(sentence) else 0.25 if _PERFECT.search(sentence) else 0
    dated = 0.5 if time_words(sentence) else 0.0
    return happened + dated if happened else 0.0


def is_direct_speech(sentence: str) -> bool:
    """A quote rather than a report: it opens with a quotation mark, or is mostly quoted.

    A short quoted phrase ('to "defend the sky"') does not make a sentence a quote.
    """
    text = sentence.strip()
    if text[:1] in "\"“'‘":
        return True
    quoted = sum(len(m.group()) for m in _QUOTED.finditer(text))
    return quoted > 0.5 * len(text)
