"""People a news sentence names in a role: "head coach Marta Ilves", "Sofia Lindqvist won"."""

from __future__ import annotations

import re

from rag.text.clauses import Value
from rag.text.days import CALENDAR, MONTHS
from rag.text.words import query_terms

_ROLES = (
    r"head coach|coach|manager|captain|chief executive|ceo|chairman|chairwoman|chair"
    r"|president|prime minister|minister|mayor|governor|spokesperson|spokesman|spokeswoman"
    r"|secretary|director|driver|pilot|judge|owner|founder|leader|commander|chief"
)
_PERSON = r"[A-Z][a-z]+(?:[- ][A-Z][a-z]+){0,2}"
_ROLE_PATTERNS = [
    # "head coach Marta Ilves", "Interior minister Aldo Ferri"
    re.compile(rf"(?:(?P<q>[\w']+)\s+)?(?P<role>{_ROLES})\s+(?P<name>{_PERSON})\b"),
    # "Ruth Okonjo, the union secretary", "Ilves, the new head coach of Harbour Rovers"
    re.compile(
        rf"(?P<name>{_PERSON}),\s+(?:the\s+|its\s+|their\s+)?(?:(?P<q>[\w']+)\s+){{0,2}}?"
        rf"(?P<role>{_ROLES})\b"
    ),
    # "appointed Marta Ilves as their new head coach", "named Jana Novak as its next ..."
    re.compile(
        rf"\b(?:named|appointed|chose|picked|elected)\s+(?P<name>{_PERSON})\s+as\s+"
        rf"(?:the\s+|its\s+|their\s+|his\s+|her\s+)?(?:(?P<q>[\w']+)\s+){{0,2}}?(?P<role>{_ROLES})\b"
    ),
    # "Dario Brenn will be the new head coach"
    re.compile(
        rf"(?P<name>{_PERSON})\s+(?:will be|was|is|has been)\s+(?:named\s+|appointed\s+)?"
        rf"(?:as\s+)?(?:the\s+)?(?:(?P<q>[\w']+)\s+){{0,2}}?(?P<role>{_ROLES})\b"
    ),
    # "Police named the driver of the tram ... as Peter Hallam"
    re.compile(
        rf"\bnamed\s+(?:the\s+)?(?P<role>{_ROLES})\b[^.;]{{0,80}}?\bas\s+(?P<name>{_PERSON})"
    ),
    # "The driver of the derailed tram was named by police as Peter Hallworth"
    re.compile(
        rf"\b(?P<role>{_ROLES})\b[^.;]{{0,60}}?\bnamed\b[^.;]{{0,20}}?\bas\s+(?P<name>{_PERSON})"
    ),
]
_ROLE_HINT = re.compile(rf"\b({_ROLES}|won)\b")
_WINNER = re.compile(rf"(?P<name>{_PERSON})\s+won\s+(?:the\s+)?(?P<what>(?:[\w']+\s+){{1,3}})")
# Words before a role that do not qualify it ("the new coach" is the coach).
_DETERMINERS = frozenset(
    "the a an its their his her new next former acting interim as of and by club's "
    "company's deputy".split()
)
# Roles written differently that are one role.
_GENERIC_ROLES = {
    "head coach": "coach",
    "spokesman": "spokesperson",
    "spokeswoman": "spokesperson",
    "ceo": "chief executive",
    "chairman": "chair",
    "chairwoman": "chair",
}


def role_names(sentence: str) -> list[Value]:
    """People named in a role: "head coach Marta Ilves", "Sofia Lindqvist won the race"."""
    found: list[Value] = []
    if not _ROLE_HINT.search(sentence):
        return found

    def taken(m: re.Match[str]) -> bool:
        return any(v.start <= m.start("name") < v.end for v in found)

    for pattern in _ROLE_PATTERNS:
        for m in pattern.finditer(sentence):
            name = _name_tokens(m["name"])
            if not name or taken(m):
                continue
            q = (m.groupdict().get("q") or "").lower().removesuffix("'s")
            found.append(
                Value(
                    "name",
                    m["name"],
                    m.start("name"),
                    m.end("name"),
                    name=name,
                    role=m["role"].lower(),
                    qualifier="" if q in _DETERMINERS else q,
                )
            )
    for m in _WINNER.finditer(sentence):
        name = _name_tokens(m["name"])
        if name and not taken(m):
            what = " ".join(w for w in query_terms(m["what"]) if w not in CALENDAR)
            start, end = m.span("name")
            found.append(Value("name", m["name"], start, end, name=name, role=f"won {what}"))
    return found


def _name_tokens(name: str) -> tuple[str, ...]:
    tokens = tuple(t.lower() for t in re.split(r"[- ]", name) if t)
    if any(t in CALENDAR or t in MONTHS for t in tokens):
        return ()
    return tokens


def same_role(a: Value, b: Value) -> bool:
    """Whether two names fill one role: "head coach" and "coach", not two kinds of minister."""
    ra, rb = _GENERIC_ROLES.get(a.role, a.role), _GENERIC_ROLES.get(b.role, b.role)
    return ra == rb and not (a.qualifier and b.qualifier and a.qualifier != b.qualifier)
