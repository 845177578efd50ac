"""One search box for the archive (issue 16): figures, photos, sources, citations and notes,
EDTF years and ranges, visibility, the API route and the page."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group

from archive.models import Citation, Note, Photo, Source
from archive.search import parse_query, search
from archive.services import figure_create, photo_ingest
from tests.api.conftest import client_for
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(django_user_model):
    user = django_user_model.objects.create_user(username="v", password="pw-viewer-1")
    user.groups.add(Group.objects.get(name="viewer"))
    return user


def photo(seed: int, title: str, date: str = "", **metadata) -> Photo:
    result = photo_ingest(
        stream=io.BytesIO(image_bytes("PNG", size=(16, 16), seed=seed)),
        filename=f"p{seed}.png",
        title=title,
        metadata={"date": date, **metadata} if date else metadata,
        figure_ids=metadata.pop("figure_ids", []) if "figure_ids" in metadata else [],
    )
    assert result.photo is not None
    return result.photo


def ids(rows) -> set[int]:
    return {r.pk for r in rows}


def test_years_and_ranges_overlap(viewer):
    exact = photo(1, "Portrait A", "1927")
    decade = photo(2, "Portrait B", "192X")
    interval = photo(3, "Portrait C", "1925/1930")
    day = photo(4, "Portrait D", "1927-04-28")
    later = photo(5, "Portrait E", "1931")
    earlier = photo(6, "Portrait F", "1919~")
    open_end = photo(7, "Portrait G", "1926/..")
    undated = photo(8, "Portrait H 1927")  # the year in its title
    found = ids(search("1927", viewer).results["photos"])
    assert found == {exact.pk, decade.pk, interval.pk, day.pk, open_end.pk, undated.pk}
    assert later.pk not in found and earlier.pk not in found
    assert ids(search("192X", viewer).results["photos"]) >= {exact.pk, interval.pk, day.pk}
    assert later.pk not in ids(search("192X", viewer).results["photos"])
    assert ids(search("1931/1935", viewer).results["photos"]) == {later.pk, open_end.pk}
    # A year and a word: both must match.
    assert ids(search("portrait 1931", viewer).results["photos"]) == {later.pk, open_end.pk}
    assert [t.is_date for t in parse_query("1927 Li ACC-12")] == [True, False, False]


def test_every_kind_of_record_is_searched(viewer):
    figure = figure_create(name="向警予", names=[])
    pic = photo(10, "在长沙", figure_ids=[figure.pk], place="Changsha")
    source = Source.objects.create(title="湖南通俗報", author="Mao Zedong", date="1920")
    citation = Citation.objects.create(
        source=source, locator="p. 3", quote="她的衣領是深藍色", claim="collar colour"
    )
    note = Note.objects.create(title="Zhounan school", body="Hsiang taught at Chounan in 1916")

    def found(query: str) -> dict[str, set[int]]:
        return {k: ids(v) for k, v in search(query, viewer).results.items()}

    assert found("Hsiang Ching-yu")["photos"] == {pic.pk}  # through the figure shown
    assert found("changsha")["photos"] == {pic.pk}
    assert found("長沙")["photos"] == {pic.pk}  # traditional query, simplified title
    assert found("湖南通俗报")["sources"] == {source.pk}
    assert found("Hunan")["sources"] == {source.pk}  # the title's pinyin
    assert found("1920")["sources"] == {source.pk}
    assert found("深藍色")["citations"] == {citation.pk}
    assert found("Hunan collar")["citations"] == {citation.pk}  # the source's title + claim
    assert found("chounan")["notes"] == {note.pk}
    assert found("zhounan")["notes"] == {note.pk}


def test_visibility_holds_in_search(viewer):
    secret_figure = figure_create(name="秘人", names=[], restricted=True)
    pic = photo(20, "Group", figure_ids=[secret_figure.pk])
    hidden = photo(21, "Sealed group", restricted=True)
    secret_source = Source.objects.create(title="Sealed letters", restricted=True)
    hidden_citation = Citation.objects.create(source=secret_source, locator="f. 1")
    shown_source = Source.objects.create(title="Open letters")
    attached = Citation.objects.create(source=shown_source, locator="f. 2", target=hidden)
    Note.objects.create(title="sealed note", body="x", photo=hidden)
    assert search("秘人", viewer).results["photos"] == []  # not through a hidden figure
    assert search("mi ren", viewer).results["figures"] == []
    assert search("sealed", viewer).results["photos"] == []
    assert search("sealed", viewer).results["sources"] == []
    assert search("sealed", viewer).results["notes"] == []
    assert hidden_citation.pk not in ids(search("sealed", viewer).results["citations"])
    assert attached.pk not in ids(search("f. 2", viewer).results["citations"])
    assert ids(search("group", viewer).results["photos"]) == {pic.pk}


def test_api_route_and_page(viewer, client):
    pic = photo(30, "Portrait in Xiamen", "1926-09")
    Note.objects.create(title="Xiamen", body="he taught there in 1926")
    api = client_for(viewer)
    answer = api.get("/api/v1/search/", {"q": "xiamen 1926"})
    assert answer.status_code == 200
    body = answer.json()
    assert [p["id"] for p in body["results"]["photos"]] == [pic.pk]
    assert body["results"]["photos"][0]["master_artifact"] == pic.master_id
    assert len(body["results"]["notes"]) == 1
    assert body["terms"][1] == {"text": "1926", "date_from": "1926-01-01", "date_to": "1926-12-31"}
    limited = api.get("/api/v1/search/", {"q": "xiamen", "kinds": "notes", "limit": 1}).json()
    assert list(limited["results"]) == ["notes"]
    for bad in (
        {"q": ""},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": "many"},
        {"q": "x", "kinds": "cats"},
    ):
        response = api.get("/api/v1/search/", bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid"
    assert client_for(None).get("/api/v1/search/", {"q": "xiamen"}).status_code == 401
    client.force_login(viewer)
    page = client.get("/search/", {"q": "Xiamen"}).content.decode()
    assert f'href="/photos/{pic.pk}/"' in page and "he taught there" in page
    empty = client.get("/search/", {"q": "nothing-like-this"}).content.decode()
    assert 'id="search-none"' in empty


def test_list_search_uses_the_fold(viewer):
    pic = photo(40, "Lǔ Xùn in Guǎngzhōu")
    api = client_for(viewer)
    rows = api.get("/api/v1/photos/", {"search": "lu xun guangzhou"}).json()["results"]
    assert [r["id"] for r in rows] == [pic.pk]
    rows = api.get("/api/v1/photos/", {"search": "1999"}).json()["results"]
    assert rows == []


def test_many_matches_through_another_kind_fall_back_to_a_subquery(viewer, monkeypatch):
    """Photos through the figures they show, citations through their source: a literal id list
    up to MAX_THROUGH, a subquery beyond; the same records either way."""
    import archive.search as archive_search

    figure = figure_create(name="向警予", names=[])
    pic = photo(50, "Group", figure_ids=[figure.pk])
    source = Source.objects.create(title="湖南通俗報")
    citation = Citation.objects.create(source=source, locator="p. 1")
    for limit in (archive_search.MAX_THROUGH, 0):
        monkeypatch.setattr(archive_search, "MAX_THROUGH", limit)
        assert ids(search("Hsiang Ching-yu", viewer).results["photos"]) == {pic.pk}
        assert ids(search("hunan", viewer).results["citations"]) == {citation.pk}
