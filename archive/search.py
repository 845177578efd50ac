"""One search for the archive: figures, photos (and films), sources, citations and notes.

The rule (``archive.folding``): every catalogue record stores a folded ``search_key`` of its
names, titles and texts (simplified Chinese, every pinyin and Wade-Giles reading, a plain a-z
fold), refreshed on every save (``refresh_key`` below, connected in ``ArchiveConfig.ready``);
a query is split into terms on spaces and each term, folded the same way, must be found as a
substring of the key. On PostgreSQL a trigram GIN index (``pg_trgm``, migration 0007) serves
these ``LIKE '%…%'`` tests; SQLite keeps the same columns and scans them.

A term that is an EDTF date (``1927``, ``192X``, ``1925/1930``, ``1927-04``) also matches
records whose date *overlaps* it: 1927 finds photos dated 1927, 192X and 1925/1930.

Visibility is ``access.visibility``'s: a photo is found by a figure's name only when that
figure is visible to the user, a citation by its source's title only when that source is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf, StrIndex

from archive import folding
from archive.dates import edtf_bounds

#: The fields of each model that make its key: (name-like fields, with readings; long texts).
KEY_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Figure": (("name", "sort_name", "wikidata_id"), ()),
    "Photo": (
        ("title", "place", "photographer", "accession_number", "repository"),
        ("description",),
    ),
    "Source": (("title", "author", "publisher", "repository", "identifier"), ("notes",)),
    "Citation": (("locator", "claim"), ("quote",)),
    "Note": (("title",), ("body",)),
    "ReferenceImage": (("title",), ("description",)),
    "Film": (("title", "place", "accession_number", "repository"), ("description",)),
}

MAX_TERMS = 10
#: Most records reached through another kind (photos through the figures they show, citations
#: through their source) that a term carries as a literal list of ids.
MAX_THROUGH = 2000
_DATE_TERM = re.compile(r"^[0-9X?~%./\-]+$")


# --- keeping the keys --------------------------------------------------------------------------


def key_of(
    model_name: str, record: Any, *, apps: Any = None, names: Iterable[str] | None = None
) -> str:
    """The search key of ``record`` (an instance of the catalogue model ``model_name``).

    A figure's key also folds all its name variants: ``names`` when given (bulk loads),
    otherwise read from the database (none yet for an unsaved figure)."""
    name_fields, text_fields = KEY_FIELDS[model_name]
    values = [str(getattr(record, f, "") or "") for f in name_fields]
    if model_name == "Figure":
        if names is None:
            names = []
            if record.pk is not None:
                figure_name = apps.get_model("archive", "FigureName") if apps else _figure_name()
                names = list(
                    figure_name._default_manager.filter(figure_id=record.pk)
                    .order_by("id")
                    .values_list("name", flat=True)
                )
        values += list(names)
    texts = [str(getattr(record, f, "") or "") for f in text_fields]
    return folding.search_key(values, texts)


def _figure_name() -> type[Model]:
    from archive.models import FigureName

    return FigureName


def refresh_key(sender: type[Model], instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """``pre_save``: the key of the record about to be written, in the same statement."""
    if raw:  # fixtures carry their own keys
        return
    name = sender.__name__
    if name in KEY_FIELDS and hasattr(instance, "search_key"):
        instance.search_key = key_of(name, instance)


def refresh_figure_key(figure_id: int | None) -> None:
    """A figure's name variants changed: its key is rewritten (one SELECT, one UPDATE; no
    ``save()``, so no ``updated_at`` change and no revision of its own)."""
    from archive.models import Figure

    figure = Figure.objects.filter(pk=figure_id).first() if figure_id else None
    if figure is None:
        return
    key = key_of("Figure", figure)
    if key != figure.search_key:
        Figure.objects.filter(pk=figure.pk).update(search_key=key)


def figure_name_changed(
    sender: type[Model], instance: Any, raw: bool = False, **kwargs: Any
) -> None:
    """``post_save`` / ``post_delete`` of a FigureName."""
    if not raw:
        refresh_figure_key(instance.figure_id)


def connect_signals() -> None:
    from django.apps import apps
    from django.db.models.signals import post_delete, post_save, pre_save

    for name in KEY_FIELDS:
        try:
            model = apps.get_model("archive", name)
        except LookupError:  # e.g. Film before its change lands
            continue
        if any(f.name == "search_key" for f in model._meta.get_fields()):
            pre_save.connect(refresh_key, sender=model, dispatch_uid=f"search-key-{name}")
    figure_name = apps.get_model("archive", "FigureName")
    post_save.connect(figure_name_changed, sender=figure_name, dispatch_uid="search-key-names")
    post_delete.connect(
        figure_name_changed, sender=figure_name, dispatch_uid="search-key-names-delete"
    )


# --- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One term of a query: its folded text, and its date bounds when it is an EDTF date."""

    raw: str
    text: str
    lower: dt.date | None = None
    upper: dt.date | None = None

    @property
    def is_date(self) -> bool:
        return self.lower is not None or self.upper is not None


def parse_query(query: str, *, limit: int = MAX_TERMS) -> list[Term]:
    """Split a query on spaces into folded terms (each must match); EDTF dates get bounds."""
    terms: list[Term] = []
    seen: set[str] = set()
    for raw in (query or "").split()[:limit]:
        raw = raw[:200]
        text = folding.fold(raw)
        lower = upper = None
        if _DATE_TERM.match(raw) and sum(ch.isdigit() for ch in raw) >= 3:
            try:
                bounds = edtf_bounds(raw)
            except ValidationError:
                pass
            else:
                lower, upper = bounds.lower, bounds.upper
        if not text and lower is None and upper is None:
            continue
        if (text, lower, upper) in seen:
            continue
        seen.add((text, lower, upper))  # type: ignore[arg-type]
        terms.append(Term(raw=raw, text=text, lower=lower, upper=upper))
    return terms


def _key_q(term: Term) -> Q:
    return Q(search_key__contains=term.text) if term.text else Q(pk__in=[])


def _overlap_q(term: Term, earliest: str, latest: str) -> Q:
    """Records whose [earliest, latest] overlaps the term's bounds (an open side: no bound).

    Three arms (both bounds known, open end, open start), each with a condition on
    ``earliest`` that an index serves, so that on PostgreSQL the date arm and the trigram arm
    of a term combine as a bitmap OR instead of a scan of every record."""
    if not term.is_date:
        return Q(pk__in=[])
    lo, hi = term.lower, term.upper
    both = Q(**{f"{earliest}__isnull": False, f"{latest}__isnull": False})
    open_end = Q(**{f"{earliest}__isnull": False, f"{latest}__isnull": True})
    open_start = Q(**{f"{earliest}__isnull": True, f"{latest}__isnull": False})
    if hi is not None:
        both &= Q(**{f"{earliest}__lte": hi})
        open_end &= Q(**{f"{earliest}__lte": hi})
    if lo is not None:
        both &= Q(**{f"{latest}__gte": lo})
        open_start &= Q(**{f"{latest}__gte": lo})
    return both | open_end | open_start


def _through_q(field_name: str, ids_query: QuerySet[Any]) -> Q:
    """``field_name`` in the ids ``ids_query`` yields: a literal list when there are at most
    MAX_THROUGH (one more query, and an index the planner can OR with the trigram arm), the
    subquery itself beyond that."""
    ids = list(ids_query.order_by()[: MAX_THROUGH + 1])
    if len(ids) > MAX_THROUGH:
        return Q(**{f"{field_name}__in": ids_query.order_by()})
    return Q(**{f"{field_name}__in": ids})


def figure_term_q(term: Term, user: Any = None) -> Q:
    q = _key_q(term)
    if term.is_date:
        q |= _overlap_q(term, "birth_earliest", "birth_latest")
        q |= _overlap_q(term, "death_earliest", "death_latest")
    return q


def photo_term_q(term: Term, user: Any) -> Q:
    """By the photo's own fields, its date, or a visible figure shown in it."""
    from access.visibility import visible_figures
    from archive.models import Figure, Photo

    q = _key_q(term) | _overlap_q(term, "date_earliest", "date_latest")
    if term.text:
        figures = visible_figures(Figure.objects.filter(search_key__contains=term.text), user)
        figure_ids = _through_q("figure_id", figures.values_list("pk", flat=True))
        shown = Photo.figures.through.objects.filter(figure_ids)
        q |= _through_q("pk", shown.values_list("photo_id", flat=True))
    return q


def source_term_q(term: Term, user: Any = None) -> Q:
    return _key_q(term) | _overlap_q(term, "date_earliest", "date_latest")


def citation_term_q(term: Term, user: Any) -> Q:
    """By locator, claim, quote, or the title (author...) of a visible source."""
    from access.visibility import visible_sources
    from archive.models import Source

    q = _key_q(term)
    if term.text:
        sources = visible_sources(Source.objects.filter(search_key__contains=term.text), user)
        q |= _through_q("source_id", sources.values_list("pk", flat=True))
    return q


def note_term_q(term: Term, user: Any = None) -> Q:
    return _key_q(term)


def reference_term_q(term: Term, user: Any = None) -> Q:
    return _key_q(term)


def film_term_q(term: Term, user: Any = None) -> Q:
    """Films (issue 13) by their key when they have one, else by title; and by date."""
    from django.apps import apps

    model = apps.get_model("archive", "Film")
    names = {f.name for f in model._meta.get_fields()}
    q = _key_q(term) if "search_key" in names else Q(title__icontains=term.raw)
    if {"date_earliest", "date_latest"} <= names:
        q |= _overlap_q(term, "date_earliest", "date_latest")
    return q


TERM_Q = {
    "figure": figure_term_q,
    "photo": photo_term_q,
    "source": source_term_q,
    "citation": citation_term_q,
    "note": note_term_q,
    "reference": reference_term_q,
    "film": film_term_q,
}


def term_q(kind: str, raw: str, user: Any) -> Q:
    """One raw term of a list's ``?search=`` as a Q over records of ``kind`` (a term that folds
    to nothing, e.g. a lone hyphen, matches everything, like no term)."""
    terms = parse_query(raw, limit=1)
    return TERM_Q[kind](terms[0], user) if terms else Q()


def ranked(queryset: QuerySet[Any], terms: list[Term]) -> QuerySet[Any]:
    """Best matches first: by where the first text term occurs in the key (a name's own fold
    comes first in a key, so the display name beats a variant, a variant beats a note), then
    in the model's own order. Records found another way (a photo through a figure, a date)
    come after those whose key holds the term.

    This is also what keeps the planner on the trigram index: ordered by the model's sort
    index, a small page (LIMIT 1 when the count is 1) of a rare term is looked for by walking
    the whole sort index (80 ms at 100,000 figures instead of 3)."""
    text = next((t.text for t in terms if t.text), "")
    if not text or not hasattr(queryset.model, "search_key"):
        return queryset
    position = Coalesce(NullIf(StrIndex("search_key", Value(text)), Value(0)), Value(10**9))
    return queryset.order_by(position, *queryset.model._meta.ordering)


def filter_terms(queryset: QuerySet[Any], kind: str, terms: list[Term], user: Any) -> QuerySet[Any]:
    """``queryset`` narrowed to the records of ``kind`` that match every term."""
    term_q = TERM_Q[kind]
    for term in terms:
        queryset = queryset.filter(term_q(term, user))
    return queryset


def _film_model() -> type[Model] | None:
    from django.apps import apps

    try:
        return apps.get_model("archive", "Film")
    except LookupError:
        return None


def search_querysets(query: str, user: Any) -> dict[str, QuerySet[Any]]:
    """One queryset per kind of record, each visible to ``user`` and matching every term of
    ``query`` (unordered slices are the caller's: the querysets keep each model's ordering)."""
    from access import visibility
    from archive.models import Citation, Figure, FigureName, Note, Photo, Source

    terms = parse_query(query)
    if not terms:
        return {}
    out: dict[str, QuerySet[Any]] = {
        "figures": visibility.visible_figures(Figure.objects.all(), user).prefetch_related(
            Prefetch("names", queryset=FigureName.objects.order_by("id"))
        ),
        "photos": visibility.visible_photos(Photo.objects.select_related("master"), user),
        "sources": visibility.visible_sources(Source.objects.all(), user),
        "citations": visibility.visible_citations(Citation.objects.select_related("source"), user),
        "notes": visibility.visible_notes(Note.objects.all(), user),
    }
    kinds = {
        "figures": "figure",
        "photos": "photo",
        "sources": "source",
        "citations": "citation",
        "notes": "note",
    }
    film = _film_model()
    if film is not None:
        visible_films = getattr(visibility, "visible_films", None)
        films = film._default_manager.all()
        if visible_films is not None:
            out["films"] = visible_films(films, user)
        elif any(f.name == "restricted" for f in film._meta.get_fields()):
            out["films"] = visibility.visible_figures(films, user)  # the record's own flag
        kinds["films"] = "film"
    return {
        name: ranked(filter_terms(qs, kinds[name], terms, user), terms) for name, qs in out.items()
    }


@dataclass
class SearchResults:
    query: str
    terms: list[Term]
    limit: int
    results: dict[str, list[Any]] = field(default_factory=dict)
    more: dict[str, bool] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.results.values())


def search(
    query: str, user: Any, *, limit: int = 20, kinds: Iterable[str] | None = None
) -> SearchResults:
    """The archive search: up to ``limit`` records of each kind (one query each, plus one to
    know whether there are more), in each model's list order."""
    querysets = search_querysets(query, user)
    wanted = set(kinds) if kinds is not None else None
    out = SearchResults(query=query, terms=parse_query(query), limit=limit)
    for name, queryset in querysets.items():
        if wanted is not None and name not in wanted:
            continue
        rows = list(queryset[: limit + 1])
        out.results[name] = rows[:limit]
        out.more[name] = len(rows) > limit
    return out
