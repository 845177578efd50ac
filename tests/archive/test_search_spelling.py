"""One person, every spelling (issue 16): the list search, the archive search API and the search
page each find exactly one figure under every spelling of its name."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from archive.models import Figure, FigureName
from archive.search import search
from archive.services import figure_create, figure_update
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

LI_DAZHAO = ["李大钊", "李大釗", "Li Dazhao", "Li Ta-chao", "Lǐ Dàzhāo", "LI DAZHAO"]


@pytest.fixture
def viewer(django_user_model):
    user = django_user_model.objects.create_user(username="v", password="pw-viewer-1")
    user.groups.add(Group.objects.get(name="viewer"))
    return user


@pytest.fixture
def people():
    li = figure_create(name="李大钊", names=[{"name": "守常", "language": "zh-Hans"}])
    xiang = figure_create(name="向警予", names=[])
    junxian = figure_create(name="向俊贤", names=[])
    sun = figure_create(
        name="孙中山",
        names=[
            {"name": "Sun Yat-sen", "language": "en", "kind": "variant"},
            {"name": "孫文", "language": "zh-Hant", "kind": "birth"},
        ],
    )
    chiang = figure_create(
        name="蒋介石", names=[{"name": "Chiang Kai-shek", "language": "en", "kind": "variant"}]
    )
    zeng = figure_create(name="曾国藩", names=[])
    figure_create(name="Lu Xun", names=[{"name": "鲁迅", "language": "zh-Hans"}])
    return {
        "li": li,
        "xiang": xiang,
        "junxian": junxian,
        "sun": sun,
        "chiang": chiang,
        "zeng": zeng,
    }


CASES = [
    *[(q, "li") for q in LI_DAZHAO],
    ("Li Ta chao", "li"),  # another word division
    ("向俊賢", "junxian"),  # traditional form of the stored simplified name
    ("Xiang Junxian", "junxian"),
    ("Hsiang Ching-yu", "xiang"),  # Wade-Giles
    ("Xiàng Jǐngyǔ", "xiang"),
    ("Sun Yat-sen", "sun"),  # an irregular romanisation, entered as a variant
    ("sun yatsen", "sun"),
    ("孫中山", "sun"),
    ("Sun Zhongshan", "sun"),
    ("Chiang Kai-shek", "chiang"),
    ("Jiang Jieshi", "chiang"),
    ("Tseng Kuo-fan", "zeng"),  # heteronym 曾: every reading is indexed
    ("Zeng Guofan", "zeng"),
    ("Ceng Guofan", "zeng"),
]


@pytest.mark.parametrize(("query", "who"), CASES)
def test_every_spelling_finds_one_person(people, viewer, query, who):
    found = search(query, viewer).results["figures"]
    assert [f.pk for f in found] == [people[who].pk], query

    api = client_for(viewer)
    listed = api.get("/api/v1/figures/", {"search": query}).json()["results"]
    assert [f["id"] for f in listed] == [people[who].pk], query
    named = api.get("/api/v1/figures/", {"name": query}).json()["results"]
    assert [f["id"] for f in named] == [people[who].pk], query
    box = api.get("/api/v1/search/", {"q": query}).json()
    assert [f["id"] for f in box["results"]["figures"]] == [people[who].pk], query


def test_the_search_page_finds_every_spelling(people, viewer, client):
    client.force_login(viewer)
    for query in LI_DAZHAO:
        page = client.get("/search/", {"q": query}).content.decode()
        assert f'href="/figures/{people["li"].pk}/"' in page, query
        assert f'href="/figures/{people["xiang"].pk}/"' not in page


def test_no_match_for_other_people(people, viewer):
    assert search("Li Xun", viewer).results["figures"] == []
    assert search("Hsiang Ching-yu", viewer).results["figures"] == [people["xiang"]]


def test_keys_follow_every_write(people, viewer):
    li = people["li"]
    # A new variant through the service: found at once.
    figure_update(figure=li, names=[{"name": "Li Shouchang", "language": "en"}])
    assert [f.pk for f in search("shouchang", viewer).results["figures"]] == [li.pk]
    # Replaced names are no longer found.
    figure_update(figure=li, names=[])
    assert search("守常", viewer).results["figures"] == []
    # A name added or deleted one by one (the admin's inline) refreshes the key too.
    name = FigureName.objects.create(figure=li, name="T.C. Li", language="en")
    assert search("tc li", viewer).results["figures"] == [li]
    name.delete()
    assert search("tcli", viewer).results["figures"] == []
    # The display name itself.
    figure_update(figure=li, name="Li Dazhao (1889-1927)")
    assert Figure.objects.get(pk=li.pk).search_key.startswith("lidazhao18891927")


def test_restricted_figure_is_not_found_by_any_spelling(viewer, django_user_model):
    secret = figure_create(name="李大钊", names=[], restricted=True)
    auditor = django_user_model.objects.create_user(username="a", password="pw-auditor-1")
    auditor.groups.add(Group.objects.get(name="auditor"))
    for query in LI_DAZHAO:
        assert search(query, viewer).results["figures"] == []
        assert search(query, auditor).results["figures"] == [secret]
    assert (
        client_for(viewer).get("/api/v1/search/", {"q": "Li Ta-chao"}).json()["results"]["figures"]
        == []
    )
