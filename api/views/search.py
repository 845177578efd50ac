"""``GET /api/v1/search/?q=``: the archive's one search box (``archive.search``) as JSON."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ApiViewMixin
from archive import search

KINDS = ("figures", "photos", "films", "sources", "citations", "notes")
MAX_LIMIT = 100


def _figure(f: Any) -> dict[str, Any]:
    return {
        "id": f.pk,
        "name": f.name,
        "birth_date": f.birth_date,
        "death_date": f.death_date,
    }


def _photo(p: Any) -> dict[str, Any]:
    return {
        "id": p.pk,
        "title": p.title,
        "date": p.date,
        "accession_number": p.accession_number,
        "master_artifact": p.master_id,
    }


def _film(f: Any) -> dict[str, Any]:
    return {"id": f.pk, "title": getattr(f, "title", str(f)), "date": getattr(f, "date", "")}


def _source(s: Any) -> dict[str, Any]:
    return {"id": s.pk, "title": s.title, "author": s.author, "kind": s.kind, "date": s.date}


def _citation(c: Any) -> dict[str, Any]:
    return {
        "id": c.pk,
        "source": c.source_id,
        "source_title": c.source.title,
        "locator": c.locator,
        "claim": c.claim,
        "quote": c.quote[:300],
    }


def _note(n: Any) -> dict[str, Any]:
    return {
        "id": n.pk,
        "title": n.title,
        "excerpt": n.body[:300],
        "figure": n.figure_id,
        "photo": n.photo_id,
    }


SHAPES = {
    "figures": _figure,
    "photos": _photo,
    "films": _film,
    "sources": _source,
    "citations": _citation,
    "notes": _note,
}

_RESULTS = inline_serializer(
    "SearchResults",
    {
        "query": serializers.CharField(),
        "terms": serializers.ListField(
            child=serializers.DictField(), help_text="folded terms, with date bounds if any"
        ),
        "results": serializers.DictField(
            child=serializers.ListField(child=serializers.DictField()),
            help_text="by kind (figures, photos, films, sources, citations, notes)",
        ),
        "more": serializers.DictField(
            child=serializers.BooleanField(), help_text="by kind: more than `limit` matched"
        ),
    },
)


class SearchView(ApiViewMixin, APIView):
    """One search over the archive: figures, photos, films, sources, citations and notes."""

    pagination_class = None

    @extend_schema(
        summary="Search the whole archive",
        description="Every name in any script or spelling (李大釗, Li Dazhao, Li Ta-chao, Lǐ "
        "Dàzhāo find the same person), titles, places, sources, citations and notes; an EDTF "
        "term (`1927`, `192X`, `1925/1930`) also finds records whose date overlaps it. Each "
        "space-separated term must match. Only what the user may see.",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description="the query"),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"per kind, 1 to {MAX_LIMIT} (20)"
            ),
            OpenApiParameter(
                "kinds",
                OpenApiTypes.STR,
                description="comma-separated subset of " + ", ".join(KINDS),
            ),
        ],
        responses=_RESULTS,
    )
    def get(self, request: Request) -> Response:
        query = (request.query_params.get("q") or "").strip()
        if not query:
            raise exceptions.ValidationError({"q": ["give a query, e.g. ?q=Li Dazhao"]})
        limit = _limit(request.query_params.get("limit"))
        kinds = _kinds(request.query_params.get("kinds"))
        found = search.search(query[:500], request.user, limit=limit, kinds=kinds)
        return Response(
            {
                "query": query,
                "terms": [
                    {
                        "text": t.text,
                        "date_from": t.lower.isoformat() if t.lower else None,
                        "date_to": t.upper.isoformat() if t.upper else None,
                    }
                    for t in found.terms
                ],
                "results": {
                    name: [SHAPES[name](r) for r in rows] for name, rows in found.results.items()
                },
                "more": found.more,
            }
        )


def _limit(value: str | None) -> int:
    if value in (None, ""):
        return 20
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise exceptions.ValidationError({"limit": [f"an integer from 1 to {MAX_LIMIT}"]})
    return limit


def _kinds(value: str | None) -> list[str] | None:
    if not value:
        return None
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise exceptions.ValidationError(
            {"kinds": [f"unknown kind(s) {', '.join(unknown)}; use {', '.join(KINDS)}"]}
        )
    return kinds
