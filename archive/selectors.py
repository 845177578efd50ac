"""Visibility of catalogue records now lives in ``access.visibility`` (the one home for who
may see what). These names stay importable from here only for callers outside that change
(``restoration.jobs``, ``restoration.manual``, ``web.views.common``); new code imports from
``access``."""

from __future__ import annotations

from access.visibility import (
    artifact_is_visible,
    can_view_catalogue,
    visible_citations,
    visible_references,
)

__all__ = ["artifact_is_visible", "can_view_catalogue", "visible_citations", "visible_references"]
