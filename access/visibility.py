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

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import PermissionsMixin
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from archive.models import Citation, Figure, Film, Note, Photo, ReferenceImage, Source
from restoration.models import Artifact, Face
from restoration.selectors import LineageGraph, lineage_ancestors, lineage_data
from restoration.users import User

if TYPE_CHECKING:
    from restoration.users import UserModel

M = TypeVar("M", bound=Model)

VIEW_RESTRICTED = "archive.view_restricted"


def has_permission(user: User, perm: str) -> bool:
    """Whether a signed-in ``user`` holds ``perm`` (directly, by group, or as a superuser)."""
    if user is None or not user.is_authenticated:
        return False
    if not isinstance(user, PermissionsMixin):
        return False
    if isinstance(user, get_user_model()):  # the model the permission tables' rows point at
        _prime_permissions(user)
    return user.has_perm(perm)


def _prime_permissions(user: UserModel) -> None:
    """Load all of a user's permissions in one query, once per request (the user object lives
    for one request), into the cache Django's ModelBackend keeps on it (``_perm_cache``):
    the backend would take two queries (the user's own and its groups'). Only when the
    ModelBackend (or a subclass, such as the login-limit backend) is the one backend: another
    backend may grant permissions this query does not know about."""
    if hasattr(user, "_perm_cache") or user.is_superuser or not user.is_active:
        return
    from django.contrib.auth import get_backends
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Permission

    backends = get_backends()
    if len(backends) != 1 or not isinstance(backends[0], ModelBackend):
        return
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .order_by()
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    user._perm_cache = {f"{app}.{codename}" for app, codename in rows}  # type: ignore[attr-defined]


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


def visible_films(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """Films follow the photos' rule: the record's own flag (its master is tainted with it)."""
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


def visible_citations(
    queryset: QuerySet[M], user: User, *, target: type[Model] | None = None
) -> QuerySet[M]:
    """A citation is hidden with its source, and with the record it is attached to (hidden by
    its own flag or by what *it* hangs off: a note's figure or photo, a reference's figure or
    file, a citation's source or target).

    ``target``: only citations attached to that kind of record (for everyone), and only that
    kind's rule written into the query (a prefetch through a record's ``citations``): the
    query stays small to plan (planning all seven rules cost more than running them)."""
    if target is not None:
        queryset = queryset.filter(target_type_id=ContentType.objects.get_for_model(target).pk)
    queryset = _visible(queryset, user)
    if can_view_restricted(user):
        return queryset
    # Correlated NOT EXISTS (issue 16): checked for the rows asked for (a page, a prefetch's
    # targets), never a scan of every citation. The same rule as _hidden_citations_sql, which
    # the artifact taint uses (tests/access/test_citation_rule.py keeps the two equal).
    return queryset.exclude(_citation_hidden_q(only=target))


def visible_records(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """The rows of ``queryset`` that ``user`` may see, by the rule of its catalogue model (for
    callers holding a model chosen at run time, e.g. a citation's target)."""
    rules: dict[type[Model], Any] = {
        Figure: visible_figures,
        Photo: visible_photos,
        Film: visible_films,
        Source: visible_sources,
        Note: visible_notes,
        ReferenceImage: visible_references,
        Citation: visible_citations,
    }
    return rules[queryset.model](queryset, user)


def _record_hidden_q(model: type[Model]) -> Q:
    """When a record a citation is attached to is hidden (beyond the citation's own flag and
    source): the record's own flag or what it hangs off, as in ``_HIDDEN_TARGETS``."""
    if model is Note:
        return Q(restricted=True) | Q(figure__restricted=True) | Q(photo__restricted=True)
    if model is ReferenceImage:
        # Its file's taint: a separate arm of _citation_hidden_q (the recursive taint query
        # planned once, not inside a correlated subquery).
        return Q(restricted=True) | Q(figure__restricted=True)
    if model is Citation:
        q = Q(restricted=True) | Q(source__restricted=True)
        for target in (Photo, Figure, Note):
            hidden = target._default_manager.filter(restricted=True, pk=OuterRef("target_id"))
            q |= Q(target_type_id=ContentType.objects.get_for_model(target).pk) & Q(Exists(hidden))
        return q
    return Q(restricted=True)


def _citation_hidden_q(only: type[Model] | None = None) -> Q:
    """A Q over Citation: hidden through its source or the record it is attached to (only
    ``only``'s rule when the caller filtered on that target type)."""
    q = Q(source__restricted=True)
    for model in citation_target_models().values():
        if only is not None and model is not only:
            continue
        hidden = model._default_manager.filter(_record_hidden_q(model), pk=OuterRef("target_id"))
        kind = (
            Q()
            if only is not None
            else Q(target_type_id=ContentType.objects.get_for_model(model).pk)
        )
        q |= kind & Q(Exists(hidden))
        if model is ReferenceImage:  # a reference is hidden with its file, too
            tainted_files = ReferenceImage.objects.filter(artifact_id__in=tainted_artifacts_sql())
            q |= kind & Q(target_id__in=tainted_files.values("pk"))
    return q


def citation_target_models() -> dict[str, type[Model]]:
    """What a citation may be attached to, by the name the API uses for it."""
    return {
        "figure": Figure,
        "photo": Photo,
        "film": Film,
        "source": Source,
        "note": Note,
        "reference": ReferenceImage,
        "citation": Citation,
    }


def _hidden_citations_sql() -> tuple[str, list[int]]:
    """The ids of every citation a user without ``view_restricted`` must not see: restricted
    itself, through its source, or through the record it is attached to. One raw subquery
    (not six ORM ones: building those cost more than running them), shared by
    ``visible_citations`` and the taint of the steps that cited them.

    A UNION of one part per reason rather than one scan with an OR across joins (issue 16):
    each part starts from the few restricted rows (partial indexes on ``restricted``) and
    reaches the citations by index, so the cost follows the restricted part of the archive,
    not the number of citations. ``visible_citations`` itself checks row by row
    (``_citation_hidden_q``); tests/access/test_citation_rule.py keeps the two equal."""
    parts = [
        "SELECT c.id FROM archive_citation c WHERE c.restricted",
        "SELECT c.id FROM archive_citation c WHERE c.source_id IN"
        " (SELECT s.id FROM archive_source s WHERE s.restricted)",
    ]
    params: list[int] = []
    for model in citation_target_models().values():
        hidden = _HIDDEN_TARGETS.get(
            model.__name__, f"SELECT t.id FROM {model._meta.db_table} t WHERE t.restricted"
        )
        parts.append(
            f"SELECT c.id FROM archive_citation c WHERE c.target_type_id = %s"
            f" AND c.target_id IN ({hidden})"
        )
        params.append(ContentType.objects.get_for_model(model).pk)
    return " UNION ".join(parts), params


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
# What hides a citation's target beyond its own flag: what the target hangs off (a note's
# figure or photo, a reference's figure; a cited citation's source, or the restricted photo or
# figure it is attached to). Other targets: their own flag.
_HIDDEN_TARGETS = {
    "Note": (
        "SELECT t.id FROM archive_note t LEFT JOIN archive_figure tf ON tf.id = t.figure_id"
        " LEFT JOIN archive_photo tp ON tp.id = t.photo_id"
        " WHERE t.restricted OR tf.restricted OR tp.restricted"
    ),
    "ReferenceImage": _HIDDEN_REFERENCES,
    "Citation": (
        "SELECT t.id FROM archive_citation t JOIN archive_source ts ON ts.id = t.source_id"
        " LEFT JOIN django_content_type ct ON ct.id = t.target_type_id"
        " WHERE t.restricted OR ts.restricted"
        " OR (ct.app_label = 'archive' AND ct.model = 'photo'"
        " AND t.target_id IN (SELECT x.id FROM archive_photo x WHERE x.restricted))"
        " OR (ct.app_label = 'archive' AND ct.model = 'figure'"
        " AND t.target_id IN (SELECT x.id FROM archive_figure x WHERE x.restricted))"
        " OR (ct.app_label = 'archive' AND ct.model = 'note'"
        " AND t.target_id IN (SELECT x.id FROM archive_note x WHERE x.restricted))"
    ),
}


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
        "SELECT fm.master_id FROM archive_film fm WHERE fm.restricted",
        # A hidden reference hides its file, unless that file is a public photo's master: the
        # photo's record decides for its master (a restricted reference of the same bytes must
        # not hide a public scan).
        f"SELECT r.artifact_id FROM archive_referenceimage r WHERE r.id IN ({_HIDDEN_REFERENCES})"
        " AND NOT EXISTS (SELECT 1 FROM archive_photo pp"
        " WHERE pp.master_id = r.artifact_id AND NOT pp.restricted)",
        # The file of a restricted record that was deleted stays as hidden as it was.
        "SELECT w.artifact_id FROM archive_withheldfile w",
    ]
    # The hidden steps are one CTE read by both seeds (written out twice, planning them cost
    # more than running them: issue 16).
    for i, made in enumerate(_MADE):
        source, step, artifact = _link(made, f"s{i}")
        seeds.append(
            f"SELECT {artifact} FROM {source} WHERE {step} IN (SELECT step_id FROM hidden_steps)"
        )
    terms = " UNION ".join(seeds + _recursive_terms(vendor))
    return (
        f"WITH RECURSIVE hidden_steps(step_id) AS ({hidden_steps}),"
        f" tainted(id) AS ({terms}) SELECT id FROM tainted",
        list(params),
    )


def tainted_artifacts_sql() -> RawSQL:
    """The ids of every artifact a user without ``view_restricted`` must not see, as a subquery."""
    return RawSQL(*_tainted_sql(connection.vendor))


def visible_artifacts(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(pk__in=tainted_artifacts_sql())


def visible_faces(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """Faces (restoration.Face) on artifacts ``user`` may see: a face on a restricted image,
    or on anything made from one, never leaves this module's answers."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(artifact_id__in=tainted_artifacts_sql())


def hidden_face_ids(user: User) -> set[int] | None:
    """The face ids a face search must skip for ``user``: None when they may see every face;
    the faces on restricted images (and on anything made from one) otherwise. The complement
    of ``visible_faces``, small where the restricted part is small, so a search over a million
    faces does not first list the visible ones. Raises PermissionError for a user who may not
    see the catalogue at all."""
    if not can_view_catalogue(user):
        raise PermissionError("this user may not see the catalogue")
    if can_view_restricted(user):
        return None
    hidden = Face.objects.filter(artifact_id__in=tainted_artifacts_sql())
    return set(hidden.values_list("pk", flat=True))


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


def visible_lineage_data(artifact_id: int, user: User) -> dict[str, Any] | None:
    """``visible_lineage(...).as_dict()`` read as rows (``restoration.selectors.lineage_data``)
    for a caller that needs only the data: the same check, None in the same cases."""
    if not artifact_is_visible(artifact_id, user):
        return None
    try:
        return lineage_data(artifact_id=artifact_id)
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


# --- writes that must not act on what the user cannot see (issue 11) ---------------------


# A visibility rule: the records of a queryset that a user may see (``visible_figures``...).
VisibilityRule = Callable[[QuerySet[Any], User], QuerySet[Any]]


def _visibility_rule(model: type[Model]) -> VisibilityRule | None:
    rules: dict[type[Model], VisibilityRule] = {
        Figure: visible_figures,
        Photo: visible_photos,
        Source: visible_sources,
        Citation: visible_citations,
        ReferenceImage: visible_references,
        Note: visible_notes,
        Film: visible_films,
    }
    return rules.get(model)


def keep_hidden(
    submitted: Sequence[M], current: Iterable[M], visible_with: Any, user: User
) -> list[M]:
    """The links an edit sets: those the user submitted plus the current ones the user cannot
    see (an edit never drops a link it could not show). ``user`` None: a trusted caller."""
    if user is None or can_view_restricted(user):
        return list(submitted)
    current = list(current)
    if not current:
        return list(submitted)
    model = type(current[0])
    shown = set(
        visible_with(
            model._default_manager.filter(pk__in=[c.pk for c in current]), user
        ).values_list("pk", flat=True)
    )
    chosen = {s.pk for s in submitted}
    return list(submitted) + [c for c in current if c.pk not in shown and c.pk not in chosen]


def hidden_records(records: Iterable[Model], user: User) -> bool:
    """Whether any of ``records`` (catalogue records) is hidden from ``user``."""
    if can_view_restricted(user):
        return False
    by_model: dict[type[Model], set[int]] = {}
    for record in records:
        by_model.setdefault(type(record), set()).add(record.pk)
    for model, ids in by_model.items():
        rule = _visibility_rule(model)
        if rule is None:
            continue
        if rule(model._default_manager.filter(pk__in=ids), user).count() != len(ids):
            return True
    return False


def kept_hidden_after_delete(record: Model) -> list[Model]:
    """Records that are hidden only through ``record`` and would outlive its deletion: a
    restricted figure's reference images (their ``figure`` becomes null, which would show them,
    their files and the citations attached to them). The delete marks them restricted, so a
    delete never makes a hidden record visible."""
    if isinstance(record, Figure) and record.restricted:
        return list(ReferenceImage.objects.filter(figure=record, restricted=False).order_by("pk"))
    return []


def withheld_after_delete(record: Model) -> list[int]:
    """The files that must stay hidden once ``record`` is deleted: a restricted photo's master,
    the file of a hidden reference image (unless a public photo or reference still shows it)."""
    master_id = getattr(record, "master_id", None)  # a photo (or a film) and its master scan
    if master_id is not None and getattr(record, "restricted", False):
        return [master_id]
    if isinstance(record, ReferenceImage):
        figure = record.figure  # None, with no query, when figure_id is
        hidden = record.restricted or (figure is not None and figure.restricted)
        if not hidden:
            return []
        still_public = (
            Photo.objects.filter(master_id=record.artifact_id, restricted=False).exists()
            or ReferenceImage.objects.filter(artifact_id=record.artifact_id, restricted=False)
            .exclude(pk=record.pk)
            .exclude(figure__restricted=True)
            .exists()
        )
        return [] if still_public else [record.artifact_id]
    return []


# --- revisions and evidence snapshots (issue 11) ------------------------------------------


def record_visible(model: type[Model], pk: int, user: User) -> bool:
    """Whether the catalogue record ``model`` #``pk`` exists and ``user`` may see it."""
    rule = _visibility_rule(model)
    if rule is None:
        return False
    return bool(rule(model._default_manager.filter(pk=pk), user).exists())


def redact_state(state: dict[str, Any] | None, user: User) -> dict[str, Any] | None:
    """A revision's before/after as ``user`` may see it: links to hidden figures dropped from
    a photo's ``figures``, a citation's hidden target shown as ``{"withheld": true}``."""
    if state is None or can_view_restricted(user):
        return state
    out = dict(state)
    if isinstance(out.get("figures"), list):
        shown = set(
            visible_figures(Figure.objects.filter(pk__in=out["figures"]), user).values_list(
                "pk", flat=True
            )
        )
        out["figures"] = [f for f in out["figures"] if f in shown]
    target = out.get("target")
    if isinstance(target, dict):
        model = citation_target_models().get(str(target.get("type")))
        if model is None or not record_visible(model, int(target.get("id") or 0), user):
            out["target"] = {"withheld": True}
    return out


def evidence_for(evidence: dict[str, list[dict[str, Any]]], user: User) -> dict[str, Any]:
    """A step's evidence snapshots as ``user`` may see them: a citation or reference image the
    user may not see (now) is shown withheld, by kind and the hash of its snapshot only, so
    the record still verifies and nothing hidden is named."""
    from restoration.evidence import withheld

    citations = evidence.get("citations", [])
    references = evidence.get("references", [])
    if can_view_restricted(user):
        return {"citations": citations, "references": references}
    shown_c = set(
        visible_citations(
            Citation.objects.filter(pk__in=[_here(c) for c in citations]), user
        ).values_list("pk", flat=True)
    )
    shown_r = set(
        visible_references(
            ReferenceImage.objects.filter(pk__in=[_here(r) for r in references]), user
        ).values_list("pk", flat=True)
    )
    return {
        "citations": [
            c if _here(c) in shown_c else withheld("citation", _bare(c)) for c in citations
        ],
        "references": [
            r if _here(r) in shown_r else withheld("reference", _bare(r)) for r in references
        ],
    }


def _here(snapshot: dict[str, Any]) -> Any:
    """The row a snapshot stands for here: ``local_id`` for a step imported from another
    archive (``restoration.evidence.localized``), else the id it names."""
    return snapshot.get("local_id", snapshot["id"])


def _bare(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as it was hashed (without the status keys a reader adds)."""
    extra = {"current_revision", "source_current_revision", "revised", "local_id"}
    bare = {k: v for k, v in snapshot.items() if k not in extra}
    if isinstance(bare.get("source"), dict) and "local_id" in bare["source"]:
        bare["source"] = {k: v for k, v in bare["source"].items() if k != "local_id"}
    return bare


# --- the transparency log's other records (issue 11) ---------------------------------------

RECORD_MODELS: dict[str, type[Model]] = {
    "figure": Figure,
    "photo": Photo,
    "source": Source,
    "citation": Citation,
    "reference": ReferenceImage,
    "note": Note,
    "film": Film,
}


def revision_visible(record_type: str, record_id: int, user: User) -> bool:
    """A revision is seen with its record: a revision of a hidden (or deleted) record is not,
    as the record's revisions list is not."""
    model = RECORD_MODELS.get(record_type)
    return model is not None and record_visible(model, record_id, user)


def visible_audit_runs(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A verify of one artifact's lineage is seen with that artifact; a verify of the whole
    archive names records anywhere, so only users who may see restricted records see it."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.filter(scope="artifact", artifact__isnull=False).exclude(
        artifact_id__in=tainted_artifacts_sql()
    )
