"""Artifact access for the pages. The rule itself (restricted records taint everything made
from them) lives in ``archive.selectors``; this only turns "not visible" into a 404."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from archive.selectors import visible_artifacts
from restoration.models import Artifact


def visible_artifact_or_404(artifact_id: int, user: AbstractBaseUser | AnonymousUser) -> Artifact:
    """The artifact, or 404 (never 403: a hidden record must not be confirmed to exist)."""
    artifact = visible_artifacts(Artifact.objects.filter(pk=artifact_id), user).first()
    if artifact is None:
        raise Http404("no such artifact")
    return artifact
