"""Who may see what: catalogue records, artifacts and everything hanging off the lineage.

Two rules, for the API, the pages, the exports and the jobs alike:

* A catalogue record is visible when the user may see the catalogue at all and either holds
  ``archive.view_restricted`` or the record (and what it hangs off, e.g. a note's figure, a
  citation's source and the record it is attached to) is not restricted.
* An artifact is *tainted* (hidden from users without ``view_restricted``) when it is the master
  of a restricted photo, the file of a hidden reference image, or made by a step that cited a
  hidden citation, used a hidden reference image or one whose file is tainted, used a tainted
  artifact, or made a tainted artifact beside it. Taint flows over every step of the lineage
  graph, so everything in a visible artifact's ancestor graph
  (``restoration.selectors.lineage_ancestors``: inputs, sibling outputs, evidence) is visible
  too. One predicate therefore answers for every route that serves an artifact, its file, its
  lineage, PROV, verify or export: a page and the API cannot disagree.
"""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL

from archive.models import Citation, Figure, Note, Photo, ReferenceImage, Source
from restoration.models import Artifact
from restoration.selectors import LineageGraph, lineage_ancestors

M = TypeVar("M", bound=Model)
User = AbstractBaseUser | AnonymousUser | None

VIEW_RESTRICTED = "archive.view_restricted"


def has_permission(user: User, perm: str) -> bool:
    """Whether a signed-in ``user`` holds ``perm`` (directly, by group, or as a superuser)."""
    if user is None or not user.is_authenticated:
        return False
    return isinstance(user, PermissionsMixin) and user.has_perm(perm)


def can_view_restricted(user: User) -> bool:
    return has_permission(user, VIEW_RESTRICTED)


def can_view_catalogue(user: User) -> bool:
    """Anonymous users see nothing unless ARCHIVE_PUBLIC_CATALOGUE opens the catalogue."""
    if user is not None and user.is_authenticated:
        return True
    return bool(settings.ARCHIVE_PUBLIC_CATALOGUE)


def _visible(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """The record's own flag only; the per-model rules below add what it hangs off."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.filter(restricted=False)


# --- catalogue records: hidden when the record, or the record it belongs to, is restricted ---


def visible_figures(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    return _visible(queryset, user)


def visible_sources(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    return _visible(queryset, user)


def visible_photos(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    return _visible(queryset, user)


def visible_notes(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    queryset = _visible(queryset, user)
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(figure__restricted=True).exclude(photo__restricted=True)


def visible_references(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A reference image is hidden with its figure, and with its file when that is tainted
    (e.g. a public reference made of a restricted photo's master scan)."""
    queryset = _visible(queryset, user)
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(figure__restricted=True).exclude(
        artifact_id__in=tainted_artifacts_sql()
    )


def visible_citations(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A citation is hidden with its source, and with the record it is attached to."""
    queryset = _visible(queryset, user)
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(pk__in=RawSQL(*_hidden_citations_sql()))


def citation_target_models() -> dict[str, type[Model]]:
    """What a citation may be attached to, by the name the API uses for it."""
    return {
        "figure": Figure,
        "photo": Photo,
        "source": Source,
        "note": Note,
        "reference": ReferenceImage,
        "citation": Citation,
    }


def _hidden_citations_sql() -> tuple[str, list[int]]:
    """The ids of every citation a user without ``view_restricted`` must not see: restricted
    itself, through its source, or through the record it is attached to. One raw subquery
    (not six ORM ones: building those cost more than running them), shared by
    ``visible_citations`` and the taint of the steps that cited them."""
    clauses, params = ["c.restricted", "s.restricted"], []
    for model in citation_target_models().values():
        clauses.append(
            f"(c.target_type_id = %s AND c.target_id IN "
            f"(SELECT t.id FROM {model._meta.db_table} t WHERE t.restricted))"
        )
        params.append(ContentType.objects.get_for_model(model).pk)
    sql = (
        "SELECT c.id FROM archive_citation c JOIN archive_source s ON s.id = c.source_id "
        f"WHERE {' OR '.join(clauses)}"
    )
    return sql, params


# --- artifacts and everything hanging off the lineage ----------------------------------------

# Taint is one recursive query over the lineage's link tables (SQLite and PostgreSQL alike).
# A link relates a step to an artifact; each is (FROM clause with alias {a}, step id, artifact
# id). ``made``: every way the database says a step made an artifact, its StepOutput rows and
# the artifact's own generated_by (verify reports when they disagree; visibility must hold even
# then). ``touched``: everything a step drew on or made, its inputs, the files of the reference
# images it used, and ``made``. Whatever a step touched that is tainted taints everything it
# made: inputs -> outputs, a reference's file -> outputs, an output -> the outputs beside it.
_Link = tuple[str, str, str]
_MADE: list[_Link] = [
    ("restoration_stepoutput {a}", "{a}.step_id", "{a}.artifact_id"),
    ("restoration_artifact {a}", "{a}.generated_by_id", "{a}.id"),
]
_TOUCHED: list[_Link] = [
    ("restoration_stepinput {a}", "{a}.step_id", "{a}.artifact_id"),
    (
        "restoration_stepreference {a}s JOIN archive_referenceimage {a} ON {a}.id = {a}s.reference_id",
        "{a}s.step_id",
        "{a}.artifact_id",
    ),
    *_MADE,
]
# A reference image is hidden by its own flag or its figure's (its file's taint is below).
_HIDDEN_REFERENCES = (
    "SELECT r.id FROM archive_referenceimage r LEFT JOIN archive_figure f ON f.id = r.figure_id"
    " WHERE r.restricted OR f.restricted"
)


def _link(link: _Link, alias: str) -> _Link:
    return (
        link[0].format(a=alias),
        link[1].format(a=alias),
        link[2].format(a=alias),
    )


def _recursive_terms(vendor: str) -> list[str]:
    """From a tainted artifact ``t`` to what the steps that touched it made, by index lookups
    (the work grows with the tainted part of the archive, not with the archive).

    PostgreSQL allows one reference to the recursive table, so the links are unions inside
    LATERAL subqueries; SQLite (3.34+) has no LATERAL but allows several recursive terms, so it
    gets one join per pair of links."""
    if vendor == "postgresql":
        touched = " UNION ALL ".join(
            f"SELECT {step} AS step_id FROM {source} WHERE {artifact} = t.id"
            for source, step, artifact in (_link(link, f"x{i}") for i, link in enumerate(_TOUCHED))
        )
        made = " UNION ALL ".join(
            f"SELECT {artifact} AS artifact_id FROM {source} WHERE {step} = x.step_id"
            for source, step, artifact in (_link(link, f"y{i}") for i, link in enumerate(_MADE))
        )
        return [
            f"SELECT y.artifact_id FROM tainted t CROSS JOIN LATERAL ({touched}) x"
            f" CROSS JOIN LATERAL ({made}) y"
        ]
    terms = []
    for touched_link in _TOUCHED:
        for made_link in _MADE:
            t_from, t_step, t_artifact = _link(touched_link, "x")
            m_from, m_step, m_artifact = _link(made_link, "y")
            terms.append(
                f"SELECT {m_artifact} FROM tainted t, {t_from}, {m_from}"
                f" WHERE {t_artifact} = t.id AND {m_step} = {t_step}"
            )
    return terms


def _tainted_sql(vendor: str) -> tuple[str, list[int]]:
    citations, params = _hidden_citations_sql()
    hidden_steps = (
        f"SELECT sc.step_id FROM restoration_stepcitation sc WHERE sc.citation_id IN ({citations})"
        " UNION SELECT sr.step_id FROM restoration_stepreference sr"
        f" WHERE sr.reference_id IN ({_HIDDEN_REFERENCES})"
    )
    seeds = [
        "SELECT p.master_id FROM archive_photo p WHERE p.restricted",
        f"SELECT r.artifact_id FROM archive_referenceimage r WHERE r.id IN ({_HIDDEN_REFERENCES})",
    ]
    all_params: list[int] = []
    for i, made in enumerate(_MADE):
        source, step, artifact = _link(made, f"s{i}")
        seeds.append(f"SELECT {artifact} FROM {source} WHERE {step} IN ({hidden_steps})")
        all_params += params
    terms = " UNION ".join(seeds + _recursive_terms(vendor))
    return f"WITH RECURSIVE tainted(id) AS ({terms}) SELECT id FROM tainted", all_params


def tainted_artifacts_sql() -> RawSQL:
    """The ids of every artifact a user without ``view_restricted`` must not see, as a subquery."""
    return RawSQL(*_tainted_sql(connection.vendor))


def visible_artifacts(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(pk__in=tainted_artifacts_sql())


def visible_artifact(artifact_id: int, user: User) -> Artifact | None:
    """The artifact when ``user`` may see it (and so its whole lineage), else None: the one
    check behind every artifact route of the pages and the API."""
    return visible_artifacts(Artifact.objects.filter(pk=artifact_id), user).first()


def artifact_is_visible(artifact_id: int, user: User) -> bool:
    return visible_artifacts(Artifact.objects.filter(pk=artifact_id), user).exists()


def visible_lineage(artifact_id: int, user: User) -> LineageGraph | None:
    """The ancestor graph of an artifact ``user`` may see, fetched once for the caller to hand
    to verify and the exports; None when the artifact is missing or hidden.

    The artifact's own visibility is the whole check: taint flows over every step of the graph,
    so a visible artifact has no hidden artifact, step or evidence in its ancestry."""
    if not artifact_is_visible(artifact_id, user):
        return None
    try:
        return lineage_ancestors(artifact_id=artifact_id)
    except Artifact.DoesNotExist:  # deleted in between: as if it had never been there
        return None


def visible_jobs(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A job is hidden when its input or its output is hidden."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    tainted = tainted_artifacts_sql()
    return queryset.exclude(input_id__in=tainted).exclude(output_id__in=tainted)


def visible_steps(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A step is hidden when anything it produced is hidden (then so is its record)."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(produced__artifact_id__in=tainted_artifacts_sql())
