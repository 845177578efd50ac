"""The registry of film operations (explicit, like ``restoration.engine.registry``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache

from ..types import ParamError
from .base import FilmOperation


def _builtin() -> tuple[type[FilmOperation], ...]:
    from .ops import BUILTIN

    return BUILTIN


@cache
def _operations() -> dict[str, FilmOperation]:
    registry: dict[str, FilmOperation] = {}
    for cls in _builtin():
        if cls.name in registry:
            raise RuntimeError(f"film operation {cls.name!r} registered twice")
        registry[cls.name] = cls()
    return registry


class _Registry(Mapping[str, FilmOperation]):
    """``FILM_OPERATIONS``: a read-only mapping name -> operation, filled on first use (so that
    importing the package does not import every operation module)."""

    def __getitem__(self, key: str) -> FilmOperation:
        return _operations()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_operations())

    def __len__(self) -> int:
        return len(_operations())

    def __repr__(self) -> str:
        return f"FILM_OPERATIONS({sorted(_operations())})"


FILM_OPERATIONS: Mapping[str, FilmOperation] = _Registry()


def get_film_operation(name: str) -> FilmOperation:
    """The film operation called ``name``; ParamError on field ``op`` when there is none."""
    operations = _operations()
    try:
        return operations[name]
    except (KeyError, TypeError):
        allowed = ", ".join(sorted(operations))
        raise ParamError("op", f"unknown film operation {name!r} (known: {allowed})") from None


def list_film_operations() -> list[FilmOperation]:
    operations = _operations()
    return [operations[name] for name in sorted(operations)]
