"""Places by every name news gives them: a country, its short names, its people, its region.

A question says "UK" where the article says "Britain", "French cheese" where it says
"France", "a European island" where it names the island and Italy. The forms come from
the ``countryinfo`` package (names, alternative spellings, demonyms, regions of 250
countries), read once on first use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# What ``countryinfo`` leaves out: the nations of the United Kingdom (it lists one country)
# and the short name news uses most for it.
_NATIONS = {"england": "english", "scotland": "scottish", "wales": "welsh"}
_SHORT_NAMES = {"britain": "united kingdom", "holland": "netherlands"}


@functools.cache
def _country_forms() -> dict[str, frozenset[str]]:
    """Each lowercased form of a country -> all of its forms (name, short names, demonym)."""
    import countryinfo

    by_form: dict[str, frozenset[str]] = {}
    for country in countryinfo.all_countries():
        info = country.info()
        forms = {info.get("name") or "", info.get("demonym") or ""}
        forms |= {s for s in info.get("altSpellings") or [] if _usable(s)}
        group = frozenset(f.lower() for f in forms if f)
        for form in group:
            by_form[form] = by_form.get(form, frozenset()) | group
    for nation, people in _NATIONS.items():
        by_form[nation] = by_form[people] = frozenset({nation, people})
    for short, name in _SHORT_NAMES.items():
        group = by_form[name] | {short}
        for form in group:
            by_form[form] = by_form.get(form, frozenset()) | group
    return by_form


@functools.cache
def _regions() -> dict[str, frozenset[str]]:
    """Each lowercased region and subregion ("europe") -> the forms of its countries."""
    import countryinfo

    found: dict[str, set[str]] = {}
    for country in countryinfo.all_countries():
        info = country.info()
        forms = _country_forms().get((info.get("name") or "").lower(), frozenset())
        for region in (info.get("region"), info.get("subregion")):
            if region:
                found.setdefault(region.lower(), set()).update(forms)
    return {region: frozenset(forms) for region, forms in found.items()}


def _usable(spelling: str) -> bool:
    """An alternative spelling that names the country in English news text.

    Codes of two or three capitals ("UK", "USA") are kept (matched case-sensitively), and
    names of several words ("Great Britain"). One-word spellings are not: some are common
    words ("Island", Iceland's own name).
    """
    if not spelling.isascii():
        return False
    return (2 <= len(spelling) <= 3 and spelling.isupper()) or " " in spelling.strip()


def place_forms(name: str) -> frozenset[str]:
    """Every form of the place ``name`` (lowercased) names, itself included; empty if none."""
    return _country_forms().get(name.lower(), frozenset())


def region_forms(adjective: str) -> frozenset[str]:
    """The forms of every country in the region an adjective names ("european" -> Italy...).

    Only one-word regions ("Europe", "Asia", "Caribbean"): an adjective names one when it
    starts with the region's first five letters (four for a four-letter region, "Asian").
    """
    adjective = adjective.lower()
    return frozenset().union(
        *(
            forms | {region}
            for region, forms in _regions().items()
            if " " not in region and len(region) >= 4 and adjective.startswith(region[:5])
        )
    )


def mentions_any(forms: Iterable[str], text: str, lowered: str, words: set[str]) -> bool:
    """Whether ``text`` states one of ``forms`` (lowercased; short codes in capitals only)."""
    for form in forms:
        if len(form) <= 3 and form.isalpha():
            # "US", "UK" are codes only in capitals (and "U.S." with its dots), never "us".
            dotted = r"\.?".join(form.upper())
            if re.search(rf"\b{dotted}\b\.?", text):
                return True
        elif " " in form or "-" in form:
            if re.search(rf"\b{re.escape(form)}\b", lowered):
                return True
        elif form in words:
            return True
    return False
