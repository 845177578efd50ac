"""The pages and the API answer the same for the same user and record.

Every route of ``web/urls.py`` and ``api/urls.py`` that takes a record id is found by walking
the URL patterns (a new route is covered without editing this file; a route on a kind of
record this file does not know fails the test until it is added). Each route is called for
every record of a lineage with public and restricted masters, derived outputs of each, outputs
tainted only through their evidence or through an output made beside them, and jobs (before
``access``, ``beside_secret`` was a 200 on the pages and a 404 on the API's lineage, PROV and
export routes); the answer is read as "hidden" (404),
"visible" (any other answer about the record) or "refused" (401/403 or a redirect to the login
page: the route turned the user away before looking the record up, which says nothing).
For each (user, record), every page and every API route must give the same verdict, and it must
be the one ``access`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from archive.models import Batch, Citation, ReferenceImage
from restoration.models import Artifact, Face, Job, Step, StepOutput
from tests.api.conftest import World
from tests.restoration.lineage_support import derive, raw_write

pytestmark = pytest.mark.django_db

HIDDEN, VISIBLE = "hidden", "visible"

# The first path segment of a route -> the kind of record its ``pk`` names.
KINDS = {
    "artifacts": "artifact",
    "steps": "step",
    "jobs": "job",
    "photos": "photo",
    "figures": "figure",
    "references": "reference",
    "sources": "source",
    "citations": "citation",
    "notes": "note",
    "films": "film",
    # issue 11: the log's other records
    "revisions": "revision",
    "audits": "audit",
    # issue 14: a batch is seen when one of its jobs is (web/views/workbench._batch_or_404)
    "batches": "batch",
    # issue 22: a measured face is seen when its artifact is
    "faces": "face",
}
# Routes with an id that names no catalogue or lineage record: the same for every reader.
NOT_RECORDS = {"models"}

# (route name, record) pairs that answer 404 for a reason other than visibility.
NOT_ABOUT_VISIBILITY = {
    # a master was made by no step: there is nothing to compare it with
    ("web:artifact-heatmap", "master"),
    ("web:artifact-heatmap", "secret_master"),
    ("web:artifact-heatmap", "film_master"),
    ("web:artifact-heatmap", "secret_film_master"),
}


@dataclass(frozen=True)
class Route:
    name: str  # "web:artifact-file", "api:artifact-lineage"
    kind: str
    methods: tuple[str, ...]  # the methods to try, in order (a safe one first)


def _routes(namespace: str, patterns: list[Any]) -> list[Route]:
    routes = []
    for pattern in patterns:
        assert not isinstance(pattern, URLResolver), f"{namespace}: nested include {pattern}"
        assert isinstance(pattern, URLPattern)
        text = str(pattern.pattern).lstrip("^")
        if "pk" not in pattern.pattern.regex.groupindex:
            continue
        prefix = text.split("/", 1)[0]
        if prefix in NOT_RECORDS:
            continue
        assert prefix in KINDS, f"{namespace}:{pattern.name} ({text}): add its record kind to KINDS"
        actions = getattr(pattern.callback, "actions", None)
        if actions is None:  # a page: GET, or POST when it only takes POST (405 on GET)
            methods: tuple[str, ...] = ("get", "post")
        else:  # a viewset route: a safe method when it has one, never PUT/PATCH/DELETE
            methods = ("get",) if "get" in actions else ("post",)
        routes.append(Route(f"{namespace}:{pattern.name}", KINDS[prefix], methods))
    return routes


def all_routes() -> list[Route]:
    from api import urls as api_urls
    from web import urls as web_urls

    # All of the API's patterns, not only the router's: the evidence routes (revisions, proofs,
    # bundle, evidence as used) and the bag are added beside it.
    return _routes("web", web_urls.urlpatterns) + _routes("api", api_urls.urlpatterns)


def test_the_walk_covers_the_lineage_routes_of_both():
    names = {r.name for r in all_routes()}
    for page in ("artifact", "artifact-prov", "artifact-export", "artifact-heatmap", "job"):
        assert f"web:{page}" in names
    for api in ("artifact-detail", "artifact-lineage", "artifact-verify", "step-detail"):
        assert f"api:{api}" in names
    assert "web:job-cancel" in names and "api:job-cancel" in names
    for api in (
        "photo-revisions",
        "citation-revisions",
        "step-evidence",
        "step-proof",
        "revision-proof",
        "audit-proof",
        "artifact-bundle",
        "photo-bag",
    ):
        assert f"api:{api}" in names, api
    assert "web:batch" in names


@dataclass
class Records:
    """Every record the walk visits, by label, with who may not see it."""

    by_kind: dict[str, dict[str, int]]
    secret: set[str]  # labels hidden from users without view_restricted


def _films(world: World) -> tuple[Any, Any]:
    """A public film and a restricted one (issue 13), each with its master video."""
    import tempfile
    from pathlib import Path

    from archive.films import film_ingest
    from tests.film import support

    made = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed, restricted in ((41, False), (42, True)):
            path = support.write(Path(tmp) / f"f{seed}.mkv", 3, seed=seed, size=(32, 16))
            with open(path, "rb") as fh:
                made.append(
                    film_ingest(
                        stream=fh,
                        filename=path.name,
                        user=world.job.requester,
                        metadata={"restricted": restricted},
                    ).film
                )
    return made[0], made[1]


def _log_records(world: World, artifacts: dict[str, Artifact]) -> dict[str, dict[str, int]]:
    """Revisions and audit runs (issue 11), then a signed checkpoint so that every proof route
    answers about the record (before one exists a proof is a 409, which says "visible")."""
    from archive.models import Revision
    from restoration import ledger
    from restoration.audit import archive_verify_all, artifact_verify

    def first_revision(kind: str, pk: int) -> int:
        return Revision.objects.filter(record_type=kind, record_id=pk).values_list("pk", flat=True)[
            0
        ]

    records = {
        "revision": {
            "rev:photo": first_revision("photo", world.photo.pk),
            "rev:secret_photo": first_revision("photo", world.secret_photo.pk),
            "rev:secret_figure": first_revision("figure", world.secret_figure.pk),
        },
        "audit": {
            "audit:derived": artifact_verify(artifact_id=artifacts["derived"].pk)["audit_run"],
            "audit:secret_derived": artifact_verify(artifact_id=artifacts["secret_derived"].pk)[
                "audit_run"
            ],
            "audit:all": archive_verify_all()["audit_run"],
        },
    }
    ledger.checkpoint_make(reason="parity walk")
    return records


def _face(artifact: Artifact) -> Face:
    return Face.objects.create(
        artifact=artifact,
        number=0,
        box=[1.0, 1.0, 9.0, 9.0],
        size=8.0,
        sharpness=0.0,
        score=0.9,
        reason="too small to measure",
        method="test",
    )


def build_records(world: World) -> Records:
    mixed = derive(
        [("image", world.derived), ("reference", world.secret_photo.master)],
        seed=31,
        operation="color_transfer",
    )
    deep_secret = derive(world.secret_derived, seed=32)
    # A citation that is not restricted itself, attached to a restricted figure: hidden with
    # its record, and so is what a step citing it made.
    on_hidden = Citation.objects.create(source=world.source, target=world.secret_figure)
    cites_hidden_target = derive(world.photo.master, seed=33, citation_ids=[on_hidden.pk])
    # A step whose second output has the bytes of a restricted photo's master (the step links
    # the existing artifact, as any step does for bytes already stored): the image made beside
    # it would show that master in its lineage.
    beside_secret = derive(world.photo.master, seed=34, operation="descratch")
    raw_write(
        "restoration_stepoutput",
        "INSERT INTO restoration_stepoutput (step_id, artifact_id, role) VALUES (%s, %s, 'mask')",
        [beside_secret.generated_by_id, world.secret_photo.master_id],
    )
    # A reference image that is not restricted itself but whose file is a restricted master,
    # and a step that used it.
    ref_on_secret = ReferenceImage.objects.create(
        artifact=world.secret_photo.master, figure=world.figure, title="public angle?"
    )
    uses_ref_on_secret = derive(world.photo.master, seed=35, reference_ids=[ref_on_secret.pk])
    secret_reference = ReferenceImage.objects.create(
        artifact=world.secret_derived, figure=world.secret_figure, title="sealed angle"
    )
    hidden_output_job = Job.objects.create(
        input=world.photo.master,
        output=world.cited_derived,
        pipeline=[{"op": "denoise", "params": {}}],
        requester=world.job.requester,
    )
    film, secret_film = _films(world)
    artifacts = {
        "film_master": film.master,
        "secret_film_master": secret_film.master,
        "master": world.photo.master,
        "secret_master": world.secret_photo.master,
        "derived": world.derived,
        "secret_derived": world.secret_derived,
        "cited_derived": world.cited_derived,
        "mixed": mixed,
        "deep_secret": deep_secret,
        "cites_hidden_target": cites_hidden_target,
        "beside_secret": beside_secret,
        "uses_ref_on_secret": uses_ref_on_secret,
    }
    secret_artifacts = set(artifacts) - {"master", "derived", "film_master"}
    steps = {
        f"made:{label}": a.generated_by_id for label, a in artifacts.items() if a.generated_by_id
    }
    for label in ("master", "secret_master"):
        steps[f"ingest:{label}"] = (
            StepOutput.objects.filter(artifact=artifacts[label], step__kind=Step.Kind.INGEST)
            .values_list("step_id", flat=True)
            .get()
        )
    records = Records(
        by_kind={
            "artifact": {label: a.pk for label, a in artifacts.items()},
            "step": steps,  # type: ignore[dict-item]
            "job": {
                "job": world.job.pk,
                "secret_job": world.secret_job.pk,
                "hidden_output_job": hidden_output_job.pk,
            },
            "photo": {"photo": world.photo.pk, "secret_photo": world.secret_photo.pk},
            "figure": {"figure": world.figure.pk, "secret_figure": world.secret_figure.pk},
            "reference": {
                "reference": world.reference.pk,
                "secret_reference": secret_reference.pk,
                "ref_on_secret": ref_on_secret.pk,
            },
            "source": {"source": world.source.pk, "secret_source": world.secret_source.pk},
            "citation": {
                "citation": world.citation.pk,
                "secret_citation": world.secret_citation.pk,
                "on_hidden": on_hidden.pk,
            },
            "note": {"note": world.note.pk, "secret_note": world.secret_note.pk},
            "film": {"film": film.pk, "secret_film": secret_film.pk},
            "batch": {
                "batch": Batch.objects.create(
                    pipeline=[{"op": "denoise"}], job_ids=[world.job.pk, world.secret_job.pk]
                ).pk,
                "secret_batch": Batch.objects.create(
                    pipeline=[{"op": "denoise"}], job_ids=[world.secret_job.pk]
                ).pk,
            },
            **_log_records(world, artifacts),
            "face": {f"face:{label}": _face(a).pk for label, a in artifacts.items()},
        },
        secret=secret_artifacts
        | {f"made:{label}" for label in secret_artifacts}
        | {"ingest:secret_master", "secret_job", "hidden_output_job", "secret_photo"}
        | {"secret_figure", "secret_reference", "ref_on_secret", "secret_source"}
        | {"secret_citation", "on_hidden"}
        | {"secret_note"}
        | {"secret_film"}
        | {"secret_batch", "rev:secret_photo", "rev:secret_figure"}
        | {"audit:secret_derived", "audit:all"}
        | {f"face:{label}" for label in secret_artifacts},
    )
    assert set(Artifact.objects.values_list("pk", flat=True)) == set(
        records.by_kind["artifact"].values()
    ), "every artifact of the world is walked"
    return records


def verdict(response: Any) -> str | None:
    status = response.status_code
    if status == 404:
        return HIDDEN
    if status in (401, 403):
        return None
    if status == 302 and response["Location"].startswith("/accounts/login/"):
        return None
    assert status != 405, "the walk chose a method the route does not take"
    return VISIBLE


def call(client: Client, route: Route, pk: int) -> Any:
    path = reverse(route.name, kwargs={"pk": pk})
    for method in route.methods:
        response = getattr(client, method)(path)
        if response.status_code != 405:
            return response
    return response


USERS = ("anonymous", "public_anonymous", "viewer", "restorer", "auditor", "admin")


def client_for(users: dict[str, Any], who: str, settings: Any) -> Client:
    client = Client()  # session auth: the same login for pages and API
    if who == "public_anonymous":
        settings.ARCHIVE_PUBLIC_CATALOGUE = True
    elif who != "anonymous":
        client.force_login(users[who])
    return client


def expected_verdict(who: str, label: str, records: Records) -> str:
    if who == "anonymous":
        return HIDDEN  # nothing without a login unless the catalogue is public
    if who in ("auditor", "admin"):
        return VISIBLE  # view_restricted
    return HIDDEN if label in records.secret else VISIBLE


@pytest.mark.parametrize("who", USERS)
def test_pages_and_api_agree_on_every_record(who, users, world, settings):
    records = build_records(world)
    client = client_for(users, who, settings)
    routes = all_routes()
    wrong: list[str] = []
    for kind, labelled in records.by_kind.items():
        for label, pk in labelled.items():
            want = expected_verdict(who, label, records)
            answers: dict[str, str] = {}
            for route in (r for r in routes if r.kind == kind):
                if (route.name, label) in NOT_ABOUT_VISIBILITY:
                    continue
                response = call(client, route, pk)
                said = verdict(response)
                if said is not None:
                    answers[f"{route.name} {response.status_code}"] = said
            said_by = {
                side: {v for k, v in answers.items() if k.startswith(side)}
                for side in ("web:", "api:")
            }
            if len(said_by["web:"] | said_by["api:"]) > 1:
                wrong.append(
                    f"{kind} {label} (#{pk}): pages and API disagree: {sorted(answers.items())}"
                )
            elif (said := said_by["web:"] | said_by["api:"]) and said != {want}:
                wrong.append(f"{kind} {label} (#{pk}) should be {want}: {sorted(answers.items())}")
    assert not wrong, f"{who}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("who", ("viewer", "admin"))
def test_heatmap_against_follows_the_same_rule(who, users, world, settings):
    """``?against=`` names a second artifact: hidden there means 404, as the API would say."""
    records = build_records(world)
    client = client_for(users, who, settings)
    api = Client()
    api.force_login(users[who])
    root = records.by_kind["artifact"]["mixed"] if who == "admin" else world.derived.pk
    for label, pk in records.by_kind["artifact"].items():
        page = client.get(reverse("web:artifact-heatmap", args=[root]), {"against": pk})
        api_answer = api.get(reverse("api:artifact-detail", kwargs={"pk": pk}))
        if api_answer.status_code == 404:
            assert page.status_code == 404, (label, page.status_code)
    # and an ancestor the user may see compares fine
    master = world.photo.master_id
    page = client.get(reverse("web:artifact-heatmap", args=[root]), {"against": master})
    assert page.status_code == 200, page.content[:200]


def test_cancel_is_allowed_by_the_page_exactly_when_by_the_api(users, world, django_user_model):
    """One rule (``access.actions.can_cancel``): the requester, or whoever may change any job."""
    other = django_user_model.objects.create_user(username="restorer2", password="pw-2")
    other.groups.add(Group.objects.get(name="restorer"))
    cases = {
        "viewer": users["viewer"],
        "requester": users["restorer"],
        "other restorer": other,
        "admin": users["admin"],
    }
    for who, user in cases.items():
        answers = {}
        for side in ("web", "api"):
            job = Job.objects.create(
                input=world.photo.master, pipeline=[{"op": "denoise"}], requester=users["restorer"]
            )
            client = Client()
            client.force_login(user)
            response = client.post(reverse(f"{side}:job-cancel", kwargs={"pk": job.pk}))
            assert response.status_code in (200, 302, 403), (who, side, response.status_code)
            answers[side] = response.status_code != 403
            job.refresh_from_db()
            assert (job.status == Job.Status.CANCELLED) == answers[side], (who, side)
        assert answers["web"] == answers["api"], (who, answers)
        assert answers["api"] == (who in ("requester", "admin")), who
