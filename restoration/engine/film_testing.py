"""Film operations for the test suite only (registered when ``ARCHIVE_ENGINE_TEST_OPS=1``, as
``testing_ops`` is): a temporal 1:1 operation with a window (``test_film_mix``: each frame
averaged with its neighbours, never across the chunk's context boundary wrongly) whose output
shows whether chunks were joined right, and a slow one (``test_film_slow``) that a test can kill
in the middle of a chunk. No Django."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .film.base import FilmContext, FilmMeta, FilmOperation
from .params import ParamSpec


class TestFilmMix(FilmOperation):
    name = "test_film_mix"
    version = "1"
    description = "Test only: each frame becomes the mean of itself and `radius` neighbours."
    params = (
        ParamSpec("radius", "int", default=1, minimum=0, maximum=8),
        ParamSpec("delay_s", "float", default=0.0, minimum=0.0, maximum=10.0),
    )

    def window(self, params: Mapping[str, Any]) -> int:
        return int(params.get("radius", 1))

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        radius = int(params["radius"])
        held: list[tuple[int, np.ndarray]] = []
        out = 0

        def emit(center: int) -> np.ndarray:
            near = [f for i, f in held if abs(i - center) <= radius]
            return np.mean(np.stack(near), axis=0).round().astype(np.uint8)

        centers: list[int] = []
        for index, frame in frames:
            if params["delay_s"]:
                time.sleep(params["delay_s"])
            held.append((index, frame))
            centers.append(index)
            # A frame is final once `radius` frames after it have arrived.
            while centers and centers[0] + radius <= index:
                c = centers.pop(0)
                if meta.emits(c):
                    out += 1
                    yield emit(c)
                held = [(i, f) for i, f in held if i >= c + 1 - radius]
        for c in centers:
            if meta.emits(c):
                out += 1
                yield emit(c)
        ctx.analysis = {"mixed": out}


class TestFilmSlow(TestFilmMix):
    name = "test_film_slow"
    description = "Test only: test_film_mix with a pause per frame (default 0.2 s)."
    params = (
        ParamSpec("radius", "int", default=1, minimum=0, maximum=8),
        ParamSpec("delay_s", "float", default=0.2, minimum=0.0, maximum=10.0),
    )


TEST_FILM_OPERATIONS: tuple[type[FilmOperation], ...] = (TestFilmMix, TestFilmSlow)
