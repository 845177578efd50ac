from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from archive.dates import edtf_bounds
from archive.models import Citation, Figure, FigureName, Source
from archive.services import figure_create


@pytest.mark.parametrize(
    ("value", "lower", "upper"),
    [
        ("1927-04-28", "1927-04-28", "1927-04-28"),
        ("1925~", "1925-01-01", "1925-12-31"),
        ("192X", "1920-01-01", "1929-12-31"),
        ("1920/1930", "1920-01-01", "1930-12-31"),
        ("1898?", "1898-01-01", "1898-12-31"),
        ("1927-04", "1927-04-01", "1927-04-30"),
        ("", None, None),
    ],
)
def test_edtf_bounds(value, lower, upper):
    bounds = edtf_bounds(value)
    assert (str(bounds.lower) if bounds.lower else None) == lower
    assert (str(bounds.upper) if bounds.upper else None) == upper


@pytest.mark.parametrize("value", ["1927-13-01", "about 1925", "1930/1920", "19XX-99"])
def test_edtf_validation_names_the_problem(value):
    with pytest.raises(ValidationError) as excinfo:
        edtf_bounds(value)
    assert value in excinfo.value.messages[0]


@pytest.mark.django_db
def test_figure_with_chinese_names_and_pinyin_round_trips_and_is_findable():
    figure = figure_create(
        name="Lu Xun",
        birth_date="1881-09-25",
        death_date="1936-10-19",
        wikidata_id="Q23114",
        names=[
            {"name": "鲁迅", "language": "zh-Hans", "kind": "pen"},
            {"name": "魯迅", "language": "zh-Hant", "kind": "pen"},
            {"name": "周树人", "language": "zh-Hans", "kind": "birth"},
            {"name": "Lǔ Xùn", "language": "zh-Latn-pinyin", "kind": "romanisation"},
        ],
    )
    figure.refresh_from_db()
    assert figure.birth_earliest == dt.date(1881, 9, 25)
    assert Figure.objects.filter(names__name="鲁迅").get() == figure
    assert Figure.objects.filter(names__name__icontains="树人").get() == figure
    assert set(FigureName.objects.filter(figure=figure).values_list("language", flat=True)) == {
        "zh-Hans",
        "zh-Hant",
        "zh-Latn-pinyin",
    }


@pytest.mark.django_db
def test_invalid_edtf_on_a_figure_is_refused():
    with pytest.raises(ValidationError):
        figure_create(name="Someone", birth_date="the twenties")
    assert Figure.objects.count() == 0


@pytest.mark.django_db
def test_citation_attaches_to_any_catalogue_record():
    figure = figure_create(name="Qiu Jin", names=[{"name": "秋瑾", "language": "zh-Hans"}])
    source = Source.objects.create(title="秋瑾集", kind="book", date="1960")
    citation = Citation.objects.create(
        source=source, locator="p. 12", quote="…", confidence="probable", target=figure
    )
    assert list(figure.citations.all()) == [citation]
    assert source.date_earliest == dt.date(1960, 1, 1)
