"""Film operations: pure engine code over streams of frames (no Django). See ``base``."""

from .base import (
    FilmContext,
    FilmMeta,
    FilmOperation,
    FpsParam,
    JsonParam,
    fps_str,
    iter_chunks,
    output_times,
    parse_fps,
)
from .registry import FILM_OPERATIONS, get_film_operation, list_film_operations

__all__ = [
    "FILM_OPERATIONS",
    "FilmContext",
    "FilmMeta",
    "FilmOperation",
    "FpsParam",
    "JsonParam",
    "fps_str",
    "get_film_operation",
    "iter_chunks",
    "list_film_operations",
    "output_times",
    "parse_fps",
]
