"""Reads of the catalogue. Visibility of restricted records is decided here, in one place,
for the API and the pages alike.

Two rules:

* A catalogue record is visible when the user may see the catalogue at all and either holds
  ``archive.view_restricted`` or the record (and what it hangs off, e.g. a note's figure) is not
  restricted.
* An artifact is *tainted* when it is the master of a restricted photo, the file of a restricted
  reference image, the output of a step that cited a restricted citation/source or used a
  restricted reference, or the output of any step that consumed a tainted artifact. Taint flows
  down the lineage DAG, so a visible artifact's whole ancestry is visible too: lineage, PROV,
  verify and C2PA exports of a visible artifact can never mention a restricted record.
"""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL

M = TypeVar("M", bound=Model)
User = AbstractBaseUser | AnonymousUser | None

VIEW_RESTRICTED = "archive.view_restricted"


def can_view_restricted(user: User) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(VIEW_RESTRICTED))


def can_view_catalogue(user: User) -> bool:
    """Anonymous users see nothing unless ARCHIVE_PUBLIC_CATALOGUE opens the catalogue."""
    if user is not None and user.is_authenticated:
        return True
    return bool(settings.ARCHIVE_PUBLIC_CATALOGUE)


def visible(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """Restrict a catalogue queryset to what ``user`` may see (the record's own flag only)."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.filter(restricted=False)


# --- per-model rules: a record is hidden when it, or the record it belongs to, is restricted --


def visible_figures(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    return visible(queryset, user)


def visible_sources(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    return visible(queryset, user)


def visible_photos(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    return visible(queryset, user)


def visible_notes(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    queryset = visible(queryset, user)
    if _sees_everything(user):
        return queryset
    return queryset.exclude(figure__restricted=True).exclude(photo__restricted=True)


def visible_references(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    queryset = visible(queryset, user)
    if _sees_everything(user):
        return queryset
    return queryset.exclude(figure__restricted=True)


def visible_citations(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A citation is hidden with its source, and with the record it is attached to."""
    queryset = visible(queryset, user)
    if _sees_everything(user):
        return queryset
    return queryset.exclude(source__restricted=True).exclude(pk__in=_citations_on_hidden_sql())


def _citations_on_hidden_sql() -> RawSQL:
    # One raw subquery instead of six ORM ones: building those cost more than running them.
    clauses, params = [], []
    for model in citation_target_models().values():
        clauses.append(
            f"(c.target_type_id = %s AND c.target_id IN "
            f"(SELECT t.id FROM {model._meta.db_table} t WHERE t.restricted))"
        )
        params.append(ContentType.objects.get_for_model(model).pk)
    return RawSQL(f"SELECT c.id FROM archive_citation c WHERE {' OR '.join(clauses)}", params)


def citation_target_models() -> dict[str, type[Model]]:
    """What a citation may be attached to, by the name the API uses for it."""
    from archive.models import Citation, Figure, Note, Photo, ReferenceImage, Source

    return {
        "figure": Figure,
        "photo": Photo,
        "source": Source,
        "note": Note,
        "reference": ReferenceImage,
        "citation": Citation,
    }


def _sees_everything(user: User) -> bool:
    return can_view_restricted(user)


# --- artifacts and everything hanging off the lineage ----------------------------------------

# One recursive query (SQLite >= 3.8.3 and PostgreSQL alike): seeds, then taint flows from a
# step's inputs to its outputs. StepOutput (not Artifact.generated_by) is followed, so an
# artifact that a second step re-produced byte for byte is caught as well.
_TAINTED_SQL = """
WITH RECURSIVE tainted(id) AS (
    SELECT p.master_id FROM archive_photo p WHERE p.restricted
  UNION
    SELECT r.artifact_id FROM archive_referenceimage r
      LEFT JOIN archive_figure f ON f.id = r.figure_id
     WHERE r.restricted OR f.restricted
  UNION
    SELECT so.artifact_id FROM restoration_stepoutput so
      JOIN restoration_stepcitation sc ON sc.step_id = so.step_id
      JOIN archive_citation c ON c.id = sc.citation_id
      JOIN archive_source s ON s.id = c.source_id
     WHERE c.restricted OR s.restricted
  UNION
    SELECT so.artifact_id FROM restoration_stepoutput so
      JOIN restoration_stepreference sr ON sr.step_id = so.step_id
      JOIN archive_referenceimage r ON r.id = sr.reference_id
      LEFT JOIN archive_figure f ON f.id = r.figure_id
     WHERE r.restricted OR f.restricted
  UNION
    SELECT so.artifact_id FROM restoration_stepoutput so
      JOIN restoration_stepinput si ON si.step_id = so.step_id
      JOIN tainted t ON t.id = si.artifact_id
)
SELECT id FROM tainted
"""


def tainted_artifacts_sql() -> RawSQL:
    """The ids of every artifact a user without ``view_restricted`` must not see, as a subquery."""
    return RawSQL(_TAINTED_SQL, [])


def tainted_artifact_ids() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(_TAINTED_SQL)
        return {row[0] for row in cursor.fetchall()}


def visible_artifacts(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(pk__in=tainted_artifacts_sql())


def artifact_is_visible(artifact_id: int, user: User) -> bool:
    from restoration.models import Artifact

    return visible_artifacts(Artifact.objects.filter(pk=artifact_id), user).exists()


def visible_jobs(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A job is hidden when its input or its output is hidden."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    tainted = tainted_artifacts_sql()
    return queryset.exclude(input_id__in=tainted).exclude(output_id__in=tainted)


def artifacts_all_visible(artifact_ids: list[int] | set[int], user: User) -> bool:
    """Whether ``user`` may see every one of these artifacts (e.g. a whole lineage graph)."""
    from restoration.models import Artifact

    ids = set(artifact_ids)
    if not can_view_catalogue(user):
        return False
    if can_view_restricted(user) or not ids:
        return True
    return visible_artifacts(Artifact.objects.filter(pk__in=ids), user).count() == len(ids)


def visible_steps(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """A step is hidden when anything it produced is hidden (then so is its record)."""
    if not can_view_catalogue(user):
        return queryset.none()
    if can_view_restricted(user):
        return queryset
    return queryset.exclude(produced__artifact_id__in=tainted_artifacts_sql())
