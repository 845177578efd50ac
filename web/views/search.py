"""The search page: the archive's one search box (``archive.search``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from archive import search as archive_search
from web.views.common import login_required_unless_public

SEARCH_LIMIT = 50
KIND_LABELS = {
    "figures": "Figures",
    "photos": "Photos",
    "films": "Films",
    "sources": "Sources",
    "citations": "Citations",
    "notes": "Notes",
}


def search(request: HttpRequest) -> HttpResponse:
    if (redirect := login_required_unless_public(request)) is not None:
        return redirect
    query = request.GET.get("q", "").strip()[:200].replace("\x00", "")
    found = None
    if query:
        found = archive_search.search(query, request.user, limit=SEARCH_LIMIT)
    results = found.results if found else {}
    return render(
        request,
        "web/search.html",
        {
            "query": query,
            "found": found,
            "figures": results.get("figures", []),
            "photos": results.get("photos", []),
            "films": results.get("films", []),
            "sources": results.get("sources", []),
            "citations": results.get("citations", []),
            "notes": results.get("notes", []),
            "more": found.more if found else {},
            "dates": [t for t in found.terms if t.is_date] if found else [],
            "has_films": "films" in results,
            "limit": SEARCH_LIMIT,
        },
    )
