"""Name folding: one person, every spelling.

Every searchable string is stored beside its *search key* (``search_key`` columns of the
catalogue), and every query is folded by the same rules, so a search is a plain substring
test on both sides (``LIKE '%…%'``, served by a trigram index on PostgreSQL):

* **plain a-z fold** (``fold``): Unicode compatibility decomposition, tone marks and other
  diacritics dropped (Lǐ Dàzhāo → li dazhao, ü → u), case folded, and everything that is not a
  letter or a digit (spaces, hyphens, apostrophes, dots) removed: "Li Ta-chao" → "litachao".
  Word boundaries are dropped on purpose: romanisations disagree about them ("Dazhao",
  "Ta-chao", "Ta Chao"); a query is split into terms on spaces and each term must be found.
* **simplified Chinese** (``opencc`` t2s): 李大釗 → 李大钊; the query is simplified the same way.
* **every pinyin and Wade-Giles reading** (``pypinyin``, all readings of heteronyms): 李大钊 →
  lidazhao, lidaizhao, litaizhao (pinyin), litachao, litaichao, lit'aichao (Wade-Giles),
  each then a-z folded. The product over a name's characters is capped (``MAX_READINGS``):
  past the cap, further characters contribute their first reading only.

Irregular romanisations (Sun Yat-sen, Chiang Kai-shek) are not derivable from the characters;
they are entered as name variants and folded like any other name.

This module is pure Python (no Django), shared by the search, the services that keep the keys
up to date and ``import_photos``.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable

#: Separates the folded forms inside one key, so that a term never matches across two names.
SEPARATOR = " "
#: Most readings generated for one string (the product over heteronym characters).
MAX_READINGS = 32
#: Strings longer than this (notes, quotes, biographies) get the fold and the simplified
#: form only: readings are for names, titles and places.
MAX_READING_CHARS = 40

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_NOT_ALNUM = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
# Letters that NFKD does not decompose into a base letter and a mark.
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ł": "l",
        "ı": "i",
        "ʻ": "",
        "ʼ": "",
        "‘": "",
        "’": "",
    }
)


def has_han(text: str) -> bool:
    return bool(_HAN.search(text or ""))


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """Traditional → simplified Chinese (opencc ``t2s``); other scripts unchanged."""
    if not has_han(text):
        return text
    return str(_t2s().convert(text))


@functools.lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """The plain fold: no diacritics, no case, no spaces or punctuation; Han characters kept
    (in their simplified form). "Lǐ Dà-zhāo" → "lidazhao", "LI DAZHAO" → "lidazhao"."""
    text = simplified(text or "").casefold().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("", stripped)


def _reading_lists(text: str, style_name: str) -> list[list[str]]:
    from pypinyin import Style, pinyin

    style = {"pinyin": Style.NORMAL, "wadegiles": Style.WADEGILES}[style_name]
    # Runs of non-Han text come back whole (errors="default"): "李 Jr." keeps "Jr.".
    return pinyin(text, style=style, heteronym=True, v_to_u=True, errors="default")


def _combinations(options: list[list[str]]) -> list[str]:
    """Every combination of one reading per character, capped at MAX_READINGS: characters past
    the point where the product would exceed the cap contribute their first reading only."""
    combos = [""]
    for choices in options:
        unique = list(dict.fromkeys(c for c in choices if c is not None)) or [""]
        if len(combos) * len(unique) > MAX_READINGS:
            unique = unique[:1]
        combos = [prefix + " " + choice for prefix in combos for choice in unique]
    return combos


@functools.lru_cache(maxsize=8192)
def readings(text: str) -> tuple[str, ...]:
    """Every pinyin and Wade-Giles reading of the Han characters in ``text``, folded.
    Empty for text without Han characters."""
    text = simplified(text or "")
    if not has_han(text) or len(text) > MAX_READING_CHARS:
        return ()
    out: dict[str, None] = {}
    for style in ("pinyin", "wadegiles"):
        for combo in _combinations(_reading_lists(text, style)):
            # pypinyin spells ü as "v" in Wade-Giles; it is folded to "u" like ü (pinyin also
            # keeps a "v" spelling, as typed on keyboards: lv, nv).
            out[fold(combo.replace("v", "ü"))] = None
            if style == "pinyin" and "ü" in combo:
                out[fold(combo.replace("ü", "v"))] = None
    return tuple(k for k in out if k)


def name_keys(text: str) -> list[str]:
    """All folded forms under which a name (or a title, a place) is found."""
    text = (text or "").strip()
    if not text:
        return []
    keys = dict.fromkeys([fold(text), *readings(text)])
    return [k for k in keys if k]


def search_key(names: Iterable[str] = (), texts: Iterable[str] = ()) -> str:
    """The stored key of a record: the folded forms of its name-like fields (``names``: with
    readings) and of its long text fields (``texts``: fold only), separated by spaces."""
    keys: dict[str, None] = {}
    for name in names:
        for key in name_keys(name):
            keys[key] = None
    for text in texts:
        # Long text is folded word by word (a space at each word boundary), so two words of a
        # note do not run together into a match of something neither says.
        for part in re.split(r"\s+", simplified(text or "")):
            key = fold(part)
            if key:
                keys[key] = None
    return SEPARATOR.join(keys)


def query_terms(query: str, *, limit: int = 10) -> list[str]:
    """The folded terms of a query (split on spaces; each must be found): "Li Ta-chao" →
    ["li", "tachao"]. A term that folds to nothing (only punctuation) is dropped."""
    terms: list[str] = []
    for raw in (query or "").split()[:limit]:
        term = fold(raw[:200])
        if term and term not in terms:
            terms.append(term)
    return terms


def phrase_key(query: str) -> str:
    """The whole query folded as one string ("Li Ta-chao" → "litachao"), for ranking."""
    return fold(query or "")


def all_readings_of(names: Iterable[str]) -> set[str]:
    """Every folded key of several names together (``import_photos`` matches a manifest's
    figure name against this set)."""
    return set(itertools.chain.from_iterable(name_keys(n) for n in names))
