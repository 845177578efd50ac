"""``inspect_weights``: what a weights file is, for ``models scan``.

Above both the spandrel models (``engine.models``) and the film networks spandrel does not know
(RIFE, ``engine.film.rife``), so neither imports the other: the film package reaches the still
operations through the registry, and the registry reaches ``engine.models``."""

from __future__ import annotations

from pathlib import Path

from .film.rife import inspect_rife
from .models import WeightsInfo, spandrel_weights_info
from .types import EngineError


def inspect_weights(path: Path | str) -> WeightsInfo:
    """Detect the architecture of a weights file and describe it; EngineError if unknown."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"{path}: no such file")
    # Architectures spandrel does not know, recognised by their own key layout (film).
    rife = inspect_rife(path)
    if rife is not None:
        return WeightsInfo(**rife, spandrel_purpose="", tiling="internal")
    return spandrel_weights_info(path)
