"""Look-alike letters read as the Latin letters they imitate ("ІGNORE" with a Cyrillic І)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# ---- normalisation ------------------------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "‚": "'", "‛": "'", "`": "'", "´": "'",
                         "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‹": '"', "›": '"',
                         "「": '"', "」": '"', "『": '"', "』": '"'})  # fmt: skip


@lru_cache(maxsize=1)
def _latin_lookalikes() -> dict[str, str]:
    """Letter -> the Latin letter it looks like (Cyrillic "а" -> "a"), from the Unicode data.

    The Unicode confusables table (via ``confusable_homoglyphs``) maps every letter to a
    prototype; letters whose prototype is a single ASCII letter are taken. Its prototype of
    the vertical stroke is "l" (for "I", "l", "1", "|"): a capital is read as "I".
    """
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii() or not unicodedata.category(char).startswith("L"):
            continue
        if unicodedata.east_asian_width(char) in ("W", "F"):  # CJK: never Latin
            continue
        for glyph in glyphs:
            latin = glyph["c"]
            if len(latin) == 1 and latin.isascii() and latin.isalpha():
                table[char] = "I" if latin == "l" and char.isupper() else latin
                break
    return table


def normalise(text: str) -> str:
    """``text`` as the rules read it: NFKC, Latin look-alikes as Latin, no accents.

    Invisible characters (zero-width, bidi controls) are removed, quotes and apostrophes
    made ASCII, spaces single. "ІGNORE" (Cyrillic І), "Ａｓｓｉｓｔａｎｔ" (fullwidth),
    "Ig\\u200bnore" (zero-width space) and "résumé" read as "IGNORE", "Assistant", "Ignore"
    and "resume".
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # zero-width, bidi
    lookalikes = _latin_lookalikes()
    text = "".join(lookalikes.get(ch, ch) for ch in text).translate(_QUOTES)
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if unicodedata.category(ch) != "Mn"
    )
    return " ".join(unicodedata.normalize("NFC", text).split())
