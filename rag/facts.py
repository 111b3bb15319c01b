"""What a news sentence states: its values and whether it reports an event.

Values are numbers, dates and names in a role. The language rules of the news-native
answers (timeline, disagreements, freshness) live here, so they have one home (they belong
with ``rag.text``).

A *value* is a figure with what it counts ("killed 12 people": 12, people, class ``death``),
a day ("on Monday" in an article of Wednesday 11 June 2025: 9 June 2025) or a person's name
in a role ("head coach Marta Ilves"). Everything is read with regular expressions and word
lists: cheap, predictable, and tuned for precision on tests/data/disagreements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from rag.store import query_terms

# ---- numbers ------------------------------------------------------------------------------

_UNITS_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS_WORDS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SMALL = "|".join(k for k in _UNITS_WORDS if k != "one")  # "one" is too often not a count
_NUMBER = re.compile(
    r"(?P<cur>[£$€])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<mag>\s?(?:million|billion|thousand|bn|m|k)\b)?(?P<pct>\s?(?:%|percent\b|per cent\b))?"
    rf"|\b(?P<word>(?:{'|'.join(_TENS_WORDS)})(?:-(?:{'|'.join(_UNITS_WORDS)}))?|{_SMALL})\b",
    re.IGNORECASE,
)
_MAGNITUDE = {"million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "thousand": 1e3, "k": 1e3}
_CURRENCY_WORDS = {"euros": "€", "euro": "€", "pounds": "£", "dollars": "$", "dollar": "$"}
_MEASURES = {
    "hour": "hours", "hours": "hours", "minute": "minutes", "minutes": "minutes",
    "day": "days", "days": "days", "week": "weeks", "weeks": "weeks", "month": "months",
    "months": "months", "year": "years", "years": "years", "hectares": "hectares",
    "acres": "acres", "kilometres": "km", "km": "km", "miles": "miles", "votes": "votes",
}  # fmt: skip
_APPROX = re.compile(
    r"\b(about|around|roughly|some|nearly|almost|approximately|an estimated|estimated|close "
    r"to|just under|just over)\s+$",
    re.IGNORECASE,
)
_AT_LEAST = re.compile(r"\b(at least|more than|over|upwards of)\s+$", re.IGNORECASE)
_AT_MOST = re.compile(r"\b(up to|fewer than|less than|under|no more than)\s+$", re.IGNORECASE)
# "another 3", "a further 56", "two more workers", "eight of them": a part or an increment,
# not the figure itself.
_DELTA_BEFORE = re.compile(
    r"\b(another|a further|an additional|an extra|first|last)\s+$", re.IGNORECASE
)
_DELTA_AFTER = re.compile(r"^\s+(more|further|additional|extra|other|of them|of whom)\b", re.I)
_NAME_BEFORE = re.compile(r"\b[A-Z][a-z]+\s+$")  # "Route 9", "Pier 4": a name, not a count
_GLUED = re.compile(r"[A-Za-z]-?$")  # "A320", "COVID-19"
_CLOCK = re.compile(r"^\s*(a\.m\.|p\.m\.|am\b|pm\b|:\d\d|o'clock)", re.IGNORECASE)
_ORDINAL = re.compile(r"^(st|nd|rd|th)\b")
_YEAR = re.compile(r"^(19|20)\d\d$")
# The rest of the sentence after these words is the background of the figure ("has risen to
# 15 after three workers died"), not the figure.
_SUBORDINATE = re.compile(r"\b(after|since|including|compared with|up from|down from)\b", re.I)
_CLAUSE_WORD = re.compile(r"\b(after|since|when|because|while|including|although|before)\b", re.I)

# ---- what a figure counts: classes of news quantities and events --------------------------
# A figure (or a day) is compared with another only when what it counts agrees: both say
# "killed", or at least one says nothing of its kind. Killed vs injured, jobs cut vs staff
# employed, turnout vs vote share are different things.
# Matched case-sensitively (but for a sentence's first letter): "March" is a month, "march"
# a protest; capitalised words are names, not events.
_CLASSES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
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
    }.items()
}  # fmt: skip
_COUNTERS = {"units", "items", "pieces", "products", "cases", "times"}
_DWELLINGS = {"homes", "houses", "dwellings", "flats", "apartments", "households"}
# All classes in one pattern (one pass over a clause instead of one per class).
_ANY_CLASS = re.compile("|".join(f"(?P<{n}>{p.pattern})" for n, p in _CLASSES.items()))
_PEOPLE = {
    "people", "persons", "residents", "passengers", "workers", "fans", "civilians", "adults",
    "children", "pupils", "members", "villagers", "protesters", "employees", "staff",
}  # fmt: skip

# ---- time ----------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")], 1)
    for m in names
}  # fmt: skip
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
_WEEKDAY = r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DAY_MONTH = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+(\d{{4}}))?\b"
)
_MONTH_DAY = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"
)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WEEKDAY_ONLY = re.compile(rf"\b{_WEEKDAY}(?:'s)?\b")
_RELATIVE_DAY = re.compile(
    r"\b(yesterday|today|tonight|tomorrow|this morning|this afternoon|this evening|last night"
    r"|overnight)\b",
    re.IGNORECASE,
)
_RELATIVE_OFFSET = {
    "yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1, "this morning": 0,
    "this afternoon": 0, "this evening": 0, "last night": -1, "overnight": 0,
}  # fmt: skip
_FUTURE = re.compile(
    r"\b(will|would|due|set to|to (begin|end|start|resume|reopen|open|run|close|finish)|until"
    r"|till|next|from|expected|plans?|scheduled|delayed to|moved to|postponed to)\b",
    re.IGNORECASE,
)
_REPORTING = re.compile(
    r"\b(said|says|announced|told \w+|reported|confirmed|added|according to [\w' ]+|statement)"
    r"\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)
_PERIOD_MONTH = re.compile(rf"\b(?:in|for|during|since)\s+{_MONTH}\b(?!\s+\d)")
_PERIOD_YEAR = re.compile(r"\b(?:in|for|during|of)\s+((?:19|20)\d\d)\b|\b(this|last|next) year\b")
_CUMULATIVE = re.compile(
    r"\b(total|so far|in all|overall|cumulative|altogether|to date|since)\b", re.IGNORECASE
)
_PER_PERIOD = re.compile(
    r"\b(new|daily|alone|that day|overnight|in the past 24 hours|a day|per day|each day)\b",
    re.IGNORECASE,
)
_WORLD = re.compile(r"\b(globally|worldwide|around the world|across the world|global)\b", re.I)
_RATE = re.compile(r"\b(a|per|each) (year|month|week|day)\b|\bannual(ly)?\b", re.IGNORECASE)
_SPAN = re.compile(r"\bover (the next )?(\w+) (years|months|weeks|days)\b", re.IGNORECASE)
_MODAL = re.compile(
    r"\b(expects?|expected|forecasts?|could|may|might|can|capacity|would|up to|hopes?)\b",
    re.IGNORECASE,
)
_MOVED = re.compile(
    r"\b(moved|postponed|delayed|brought forward|rescheduled|pushed back|put back)\b", re.I
)
_REVISION = re.compile(
    r"\b(ris(en|es)|rose|climbed|revised|corrected|updated|widened|extended|increased|now"
    r"|moved|postponed|delayed|reduced|lowered|recount|brought forward|raised)\b",
    re.IGNORECASE,
)

# ---- names in a role ------------------------------------------------------------------------

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
_DETERMINERS = {
    "the", "a", "an", "its", "their", "his", "her", "new", "next", "former", "acting",
    "interim", "as", "of", "and", "by", "club's", "company's", "deputy",
}  # fmt: skip

# ---- events -------------------------------------------------------------------------------

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
_ABOUT_PAST = re.compile(
    rf"\b(at first|initially|originally|first reported|before|back in|in (19|20)\d\d)\b"
    rf"|\b(on|in|of) {_MONTH}\b|\b\d{{1,2}} {_MONTH}\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+")
_CALENDAR = set(_WEEKDAYS) | {m for m in _MONTHS if len(m) > 3}
_FRAME_STOP = {"said", "says", "told", "according", "announced", "reported", "added", "officials"}


@dataclass(frozen=True)
class Value:
    """One stated value: a figure, a day or a name in a role, at ``sentence[start:end]``."""

    kind: str  # "number" | "date" | "name"
    text: str
    start: int
    end: int
    number: float | None = None
    day: date | None = None
    name: tuple[str, ...] = ()  # lowercased name tokens
    unit: str = ""  # "%", "£", "hours", "magnitude", ... ("" for a plain count)
    bound: str = ""  # "" exact, "approx", "min" (at least), "max" (up to)
    role: str = ""  # names: the role ("coach", "won women's race"); others: ""
    qualifier: str = ""  # names: the word before the role ("interior" minister)
    heads: frozenset[str] = frozenset()  # numbers: the words it counts ("people", "jobs")
    classes: frozenset[str] = frozenset()  # what its clause is about ("death", "begin", ...)
    modal: bool = False  # an expectation or capacity ("expect 50,000", "can carry up to 400")
    local: frozenset[str] = frozenset()  # stems of the words just before it ("butter rose")
    moved: bool = False  # a day its clause moves something to ("has been moved to 4 November")


def values(sentence: str, published: date | None = None) -> list[Value]:
    """The figures, days and names in roles that ``sentence`` states as facts.

    Left out: figures and days in a clause giving background ("... after three workers
    died"), increments ("two more"), parts ("eight of them"), clock times, years, ordinals,
    numbers that are part of a name ("Route 9"), and the days on which someone *said*
    something ("the union said on Friday").
    """
    days = dates(sentence, published)
    taken = [(v.start, v.end) for v in days]
    return numbers(sentence, taken) + days + role_names(sentence)


def numbers(sentence: str, taken: list[tuple[int, int]] | None = None) -> list[Value]:
    """The figures of ``sentence`` (outside the spans in ``taken``), as ``Value``s."""
    taken = taken or []
    cut = _main_part(sentence)
    found = []
    for m in _NUMBER.finditer(sentence):
        start, end = m.span()
        if start >= cut or any(s <= start < e for s, e in taken):
            continue
        before, after = sentence[:start], sentence[end:]
        if m.group("word"):
            number = _word_number(m.group("word"))
        else:
            raw = m.group("num")
            if (
                _CLOCK.match(after) or _ORDINAL.match(after) or _GLUED.search(before)
                or (_YEAR.match(raw) and not m.group("cur") and not m.group("pct"))
                or (_NAME_BEFORE.search(before) and len(before.split()) > 1
                    and not m.group("cur") and not m.group("pct"))
            ):  # fmt: skip
                continue
            number = float(raw.replace(",", ""))
            if m.group("mag"):
                number *= _MAGNITUDE[m.group("mag").strip().lower()]
        if _DELTA_BEFORE.search(before) or _DELTA_AFTER.match(after):
            continue
        unit = _unit(m, before, after)
        bound = (
            "approx" if _APPROX.search(before) else "min" if _AT_LEAST.search(before)
            else "max" if _AT_MOST.search(before) else ""
        )  # fmt: skip
        clause = _clause(sentence, start, end)
        lead = _clause_before(sentence, start)
        modal = bool(_MODAL.search(lead + " " + " ".join(after.split()[:3])))
        found.append(
            Value("number", m.group().strip(), start, end, number=number, unit=unit,
                  bound=bound, heads=frozenset(_heads(after)), classes=classes(clause),
                  modal=modal, local=_local(lead))
        )  # fmt: skip
    return found


def dates(sentence: str, published: date | None = None) -> list[Value]:
    """The days ``sentence`` states, resolved against the article's publication date.

    "on Monday" is the Monday before ``published`` (or after it, when the sentence speaks of
    the future: "will end on Sunday"); "yesterday" the day before. Days on which something
    was said are left out, and so is everything that cannot be resolved.
    """
    found: list[Value] = []

    def add(start: int, end: int, day: date | None) -> None:
        if day is None or any(v.start <= start < v.end for v in found):
            return
        if _REPORTING.search(sentence[:start]):
            return
        clause = _clause(sentence, start, end)
        before = _clause_before(sentence, start)
        found.append(Value("date", sentence[start:end], start, end, day=day,
                           classes=_nearest_classes(before) or classes(clause),
                           moved=bool(_MOVED.search(before))))  # fmt: skip

    for m in _ISO.finditer(sentence):
        add(*m.span(), _safe_date(int(m[1]), int(m[2]), int(m[3])))
    for m in _DAY_MONTH.finditer(sentence):
        add(*m.span(), _calendar_day(int(m[2]), m[3], m[4], published))
    for m in _MONTH_DAY.finditer(sentence):
        add(*m.span(), _calendar_day(int(m[3]), m[2], m[4], published))
    if published is not None:
        for m in _WEEKDAY_ONLY.finditer(sentence):
            future = bool(_FUTURE.search(_clause_before(sentence, m.start())))
            add(*m.span(), _weekday(m[1], published, future))
        for m in _RELATIVE_DAY.finditer(sentence):
            add(*m.span(), published + timedelta(days=_RELATIVE_OFFSET[m[1].lower()]))
    return sorted(found, key=lambda v: v.start)


def role_names(sentence: str) -> list[Value]:
    """People named in a role: "head coach Marta Ilves", "Sofia Lindqvist won the race"."""
    found: list[Value] = []
    if not _ROLE_HINT.search(sentence):
        return found
    for pattern in _ROLE_PATTERNS:
        for m in pattern.finditer(sentence):
            name = _name_tokens(m["name"])
            if not name or any(v.start <= m.start("name") < v.end for v in found):
                continue
            q = (m.groupdict().get("q") or "").lower().removesuffix("'s")
            role = m["role"].lower()
            found.append(Value("name", m["name"], m.start("name"), m.end("name"), name=name,
                               role=role, qualifier="" if q in _DETERMINERS else q))  # fmt: skip
    for m in _WINNER.finditer(sentence):
        name = _name_tokens(m["name"])
        if name and not any(v.start <= m.start("name") < v.end for v in found):
            what = " ".join(w for w in query_terms(m["what"]) if w not in _CALENDAR)
            found.append(Value("name", m["name"], m.start("name"), m.end("name"), name=name,
                               role=f"won {what}"))  # fmt: skip
    return found


def classes(text: str) -> frozenset[str]:
    """What ``text`` is about, as classes of news quantities and events ("death", "begin")."""
    text = text.strip()
    text = text[:1].lower() + text[1:]
    return frozenset(m.lastgroup for m in _ANY_CLASS.finditer(text) if m.lastgroup)


def _nearest_classes(text: str) -> frozenset[str]:
    """The class of the last event word in ``text``: what happens on the day after it.

    "Tickets for the reopened museum go on sale on 12 May": ``sale``, not ``reopen``.
    """
    text = text[:1].lower() + text[1:]
    last = None
    for last in _ANY_CLASS.finditer(text):  # noqa: B007
        pass
    return frozenset([last.lastgroup]) if last is not None and last.lastgroup else frozenset()


def same_value(a: Value, b: Value) -> bool:
    """Whether two values of one kind agree (allowing for "about" and "at least")."""
    if a.kind != b.kind:
        return False
    if a.kind == "date":
        return a.day == b.day
    if a.kind == "name":
        return set(a.name) <= set(b.name) or set(b.name) <= set(a.name)
    assert a.number is not None and b.number is not None
    x, y = a.number, b.number
    if abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1.0):
        return True
    if "approx" in (a.bound, b.bound):
        return abs(x - y) <= 0.1 * max(abs(x), abs(y))
    if a.bound == "min" and y >= x or b.bound == "min" and x >= y:
        return True
    return a.bound == "max" and y <= x or b.bound == "max" and x <= y


def periods(sentence: str) -> frozenset[str]:
    """The months and years a sentence puts its figures in ("in March", "in 2024")."""
    found = {m.group(1).lower() for m in _PERIOD_MONTH.finditer(sentence)}
    for m in _PERIOD_YEAR.finditer(sentence):
        found.add(m.group(1) or f"{m.group(2).lower()} year")
    return frozenset(found)


def counting(sentence: str) -> str:
    """How a sentence counts: "cumulative", "period", "rate", "span" or "" (plainly).

    A total so far ("since March") is cumulative, one day's figure ("new", "on Tuesday
    alone") a period, "a year" a rate and "over five years" a span.
    """
    if _RATE.search(sentence):
        return "rate"
    if _SPAN.search(sentence):
        return "span"
    if _CUMULATIVE.search(sentence):
        return "cumulative"
    if _PER_PERIOD.search(sentence):
        return "period"
    return ""


def revises(sentence: str) -> bool:
    """Whether the sentence reports a revision ("has risen to", "revised", "postponed")."""
    return bool(_REVISION.search(sentence))


def subject_names(sentence: str) -> list[str]:
    """Capitalised words of the sentence but its first, without days and months."""
    found = []
    for m in _CAPITALISED.finditer(sentence):
        if m.start() == 0:
            continue
        word = re.sub(r"['’]s$", "", m.group()).lower()
        for part in word.split("-"):
            if len(part) > 2 and part not in _CALENDAR:
                found.append(part)
    return list(dict.fromkeys(found))


def frame_words(sentence: str, skip: list[Value]) -> set[str]:
    """The content words of a sentence's main part outside its values and names, as stems.

    The main part ends where the sentence turns to background ("... after three workers
    died in hospital overnight").
    """
    for v in sorted(skip, key=lambda v: -v.start):
        sentence = sentence[: v.start] + " " * (v.end - v.start) + sentence[v.end :]
    sentence = sentence[: _main_part(sentence)]
    names = set(subject_names(sentence))
    return {
        stem(w) for w in query_terms(sentence)
        if not w[0].isdigit() and w not in names and w not in _CALENDAR and w not in _FRAME_STOP
    }  # fmt: skip


def masked(sentence: str, skip: list[Value]) -> str:
    """The sentence with the given values replaced by "#" (to compare what is said of them)."""
    for v in sorted(skip, key=lambda v: -v.start):
        sentence = sentence[: v.start] + "#" + sentence[v.end :]
    return sentence


# ---- events ---------------------------------------------------------------------------------


def time_expressions(sentence: str) -> list[str]:
    """The expressions of time in a sentence: days, dates, "yesterday", "last month"."""
    found = [m.group() for m in _WEEKDAY_ONLY.finditer(sentence)]
    found += [m.group() for m in _RELATIVE_DAY.finditer(sentence)]
    found += [m.group() for m in _DAY_MONTH.finditer(sentence)]
    found += [m.group() for m in _MONTH_DAY.finditer(sentence)]
    found += [m.group() for m in _ISO.finditer(sentence)]
    found += [m.group() for m in re.finditer(r"\b(last|this|next) (week|month|year)\b", sentence)]
    return found


def eventfulness(sentence: str) -> float:
    """How much a sentence reads as a dated event (0: background or a quote; up to 1).

    Half for a verb of happening (past tense, passive, perfect or an announced "will"),
    half for an expression of time; background ("the mill employs about 600 people", "the
    longest since 1989") and direct quotes score 0.
    """
    if _is_direct_speech(sentence) or _BACKGROUND.search(sentence):
        return 0.0
    happened = 0.5 if _HAPPENED.search(sentence) else 0.25 if _PERFECT.search(sentence) else 0
    dated = 0.5 if time_expressions(sentence) else 0.0
    return happened + dated if happened else 0.0


def _is_direct_speech(sentence: str) -> bool:
    """A quote rather than a report: it opens with a quotation mark, or is mostly quoted.

    A short quoted phrase ('to "defend the sky"') does not make a sentence a quote.
    """
    text = sentence.strip()
    if text[:1] in "\"“'‘":
        return True
    quoted = sum(len(m.group()) for m in _QUOTED.finditer(text))
    return quoted > 0.5 * len(text)


def about_now(question: str) -> bool:
    """Whether a question asks about the present state of things.

    Not when it says "at first", "in March" or "on 3 June": then the newest report is not
    necessarily the one to prefer.
    """
    return not _ABOUT_PAST.search(question)


# ---- helpers ----------------------------------------------------------------------------


def _word_number(word: str) -> float:
    parts = word.lower().split("-")
    total = _TENS_WORDS.get(parts[0], 0) or _UNITS_WORDS.get(parts[0], 0)
    if len(parts) > 1:
        total += _UNITS_WORDS.get(parts[1], 0)
    return float(total)


def _unit(m: re.Match[str], before: str, after: str) -> str:
    if m.group("cur"):
        return m.group("cur")
    if m.group("pct"):
        return "%"
    if re.search(r"\bmagnitude\s+$", before, re.IGNORECASE) or after.startswith("-magnitude"):
        return "magnitude"
    if after.startswith("-year-old") or re.search(r"\baged\s+$", before, re.IGNORECASE):
        return "age"
    word = re.match(r"\s*(?:million\s+|billion\s+)?([A-Za-z]+)", after)
    if word:
        w = word.group(1).lower()
        if w in _CURRENCY_WORDS:
            return _CURRENCY_WORDS[w]
        if w in _MEASURES:
            return _MEASURES[w]
    return ""


def _heads(after: str) -> list[str]:
    """Up to three content words after a figure, to the next punctuation: what it counts."""
    words = []
    for w in re.findall(r"[A-Za-z][\w'-]*|[,.;:()]", after):
        if not w[0].isalpha() or w.lower() in {"after", "since", "when", "as", "because"}:
            break
        if w[0].isupper():  # a name ("for Quint"), not what is counted
            continue
        lw = w.lower()
        if lw in _CALENDAR or lw in _MAGNITUDE or lw in _CURRENCY_WORDS:
            continue
        if lw in _COUNTERS:  # "120,000 units": says nothing of what is counted
            continue
        if lw in _PEOPLE:
            words.append("people")
        elif lw in _DWELLINGS:
            words.append("homes")
        elif query_terms(lw):
            words.append(stem(lw))
        if len(words) == 3:
            break
    return words


def _main_part(sentence: str) -> int:
    """Where the sentence turns to background ("... after three workers died")."""
    m = _SUBORDINATE.search(sentence)
    return m.start() if m else len(sentence)


def _clause(sentence: str, start: int, end: int) -> str:
    """The clause around ``sentence[start:end]``.

    It is bounded by the nearest , ; : or dashes, or a word that starts a subordinate clause
    ("after", "when", "because").
    """
    left, right = _clause_bounds(sentence, start, end)
    return sentence[left:right]


def _clause_before(sentence: str, start: int) -> str:
    return sentence[_clause_bounds(sentence, start, start)[0] : start]


def _clause_bounds(sentence: str, start: int, end: int) -> tuple[int, int]:
    marks = [i for i, c in enumerate(sentence) if c in ",;:–—"]
    words = [m.start() for m in _CLAUSE_WORD.finditer(sentence)]
    left = max([0] + [i + 1 for i in marks if i < start] + [i for i in words if i <= start])
    right = min([len(sentence)] + [i for i in marks + words if i >= end])
    return left, right


def _local(before: str) -> frozenset[str]:
    """Stems of the last four content words before a value in its clause."""
    words = [w for w in query_terms(before) if not w[0].isdigit() and w not in _CALENDAR]
    return frozenset(stem(w) for w in words[-4:] if w not in _FRAME_STOP)


def scope(sentence: str) -> str:
    """Return "world" when the sentence counts worldwide ("globally"), else ""."""
    return "world" if _WORLD.search(sentence) else ""


def stem(word: str) -> str:
    """A crude stem: without -ing, -ed, -es, -s, cut to five letters ("killed" -> "kill")."""
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= (3 if suffix == "s" else 4):
            word = word[: -len(suffix)]
            break
    return word[:5]


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _calendar_day(
    day: int, month_name: str, year: str | None, published: date | None
) -> date | None:
    month = _MONTHS[month_name.lower()]
    if year:
        return _safe_date(int(year), month, day)
    if published is None:
        return None
    # The year that puts the day nearest the article's date.
    candidates = [_safe_date(published.year + d, month, day) for d in (-1, 0, 1)]
    real = [c for c in candidates if c is not None]
    return min(real, key=lambda c: abs((c - published).days)) if real else None


def _weekday(name: str, published: date, future: bool) -> date:
    target = _WEEKDAYS.index(name.lower())
    if future:
        ahead = (target - published.weekday()) % 7 or 7
        return published + timedelta(days=ahead)
    return published - timedelta(days=(published.weekday() - target) % 7)


def _name_tokens(name: str) -> tuple[str, ...]:
    tokens = tuple(t.lower() for t in re.split(r"[- ]", name) if t)
    if any(t in _CALENDAR or t in _MONTHS for t in tokens):
        return ()
    return tokens
