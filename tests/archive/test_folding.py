"""The name fold (archive.folding): pure functions, no database."""

from __future__ import annotations

import pytest

from archive import folding


def found(query: str, name: str) -> bool:
    """The search rule in one line: every folded term of the query is in the name's key."""
    key = folding.search_key([name])
    return all(term in key for term in folding.query_terms(query))


SPELLINGS = ["李大钊", "李大釗", "Li Dazhao", "Li Ta-chao", "Lǐ Dàzhāo", "LI DAZHAO", "li dazhao"]


@pytest.mark.parametrize("query", SPELLINGS)
def test_every_spelling_of_li_dazhao_finds_the_characters(query):
    assert found(query, "李大钊")
    assert found(query, "李大釗")  # stored traditional, too


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("向俊賢", "向俊贤"),  # traditional query, simplified record
        ("向俊贤", "向俊賢"),  # and the other way round
        ("Hsiang Ching-yu", "向警予"),  # Wade-Giles (yü folded to yu)
        ("Hsiang Ching-yü", "向警予"),
        ("Xiàng Jǐngyǔ", "向警予"),  # pinyin with tone marks
        ("xiangjingyu", "向警予"),
        ("Tseng Kuo-fan", "曾国藩"),  # heteronym 曾: zeng / ceng, Wade-Giles ts'eng
        ("Zeng Guofan", "曾国藩"),
        ("Ceng Guofan", "曾国藩"),
        ("Lü Xun", "吕迅"),
        ("Lu Xun", "吕迅"),
        ("lv xun", "吕迅"),  # ü typed as v
        ("Sun Yat-sen", "Sun Yat-sen"),  # irregular romanisations: entered as variants
        ("sun yatsen", "Sun Yat-sen"),
        ("Chiang Kai-shek", "Chiang Kai-shek"),
        ("CHIANG KAISHEK", "Chiang Kai-shek"),
        ("o'brien", "O’Brien"),
        ("Muller", "Müller"),
        ("strasse", "Straße"),
    ],
)
def test_spellings(query, stored):
    assert found(query, stored)


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("李大钊", "李大维"),
        ("Li Dazhao", "Lu Xun"),
        ("Hsiang Ching-yu", "李大钊"),
        ("zhaoli", "李大钊"),  # folded terms are substrings in order, not anagrams
    ],
)
def test_other_names_are_not_found(query, stored):
    assert not found(query, stored)


def test_fold_rules():
    assert folding.fold("Lǐ Dà-zhāo") == "lidazhao"
    assert folding.fold("LI  DAZHAO") == "lidazhao"
    assert folding.fold("Ts'ai Yüan-p'ei") == "tsaiyuanpei"
    assert folding.fold("李大釗") == "李大钊"
    assert folding.fold("---") == ""


def test_heteronym_readings_are_all_indexed_and_capped():
    keys = folding.readings("曾国藩")
    assert {"zengguofan", "cengguofan", "tsengkuofan"} <= set(keys)
    # A long string of heteronyms does not explode: the product is capped.
    assert len(folding.readings("单单单单单单单单单单")) <= 2 * folding.MAX_READINGS * 2


def test_long_text_gets_fold_and_simplified_form_only():
    body = "這件大衣的領子是深藍色的" * 5  # longer than MAX_READING_CHARS
    key = folding.search_key([], [body])
    assert "这件大衣的领子是深蓝色的" in key
    assert "zhe" not in key  # no readings of long text


def test_query_terms():
    assert folding.query_terms("Hsiang Ching-yu") == ["hsiang", "chingyu"]
    assert folding.query_terms("李大釗  , LI") == ["李大钊", "li"]
    assert folding.query_terms("") == []
