"""The list of built-in film operations (one line each), imported lazily by the registry."""

from __future__ import annotations

from .base import FilmOperation
from .colorize import ColorizeKeyframes
from .dedupe import Dedupe
from .deflicker import Deflicker
from .interpolate import Interpolate
from .per_frame import PerFrame
from .retime import Retime
from .scene import SceneDetect
from .stabilize import Stabilize
from .temporal_denoise import TemporalDenoise

BUILTIN: tuple[type[FilmOperation], ...] = (
    Dedupe,
    SceneDetect,
    Stabilize,
    Deflicker,
    TemporalDenoise,
    Interpolate,
    ColorizeKeyframes,
    Retime,
    PerFrame,
)
