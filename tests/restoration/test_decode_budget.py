"""The process-wide decode budget: a decode that could never fit is refused before any pixel is
decoded; decodes that fit one at a time queue; a decode that waited too long is "busy"."""

from __future__ import annotations

import threading
import time

import pytest

from restoration.imagefile import DecodeBudget, ImageRejected


def test_a_decode_over_the_whole_budget_is_refused_at_once():
    budget = DecodeBudget(limit_bytes=100, wait_s=5)
    started = time.monotonic()
    with (
        pytest.raises(ImageRejected, match="decode budget of 0 MiB") as refused,
        budget.reserve(101, "the image"),
    ):
        pass
    assert refused.value.code == "too_large" and time.monotonic() - started < 1


def test_two_decodes_that_fit_only_one_at_a_time_queue():
    budget = DecodeBudget(limit_bytes=100, wait_s=10)
    inside: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    def decode() -> None:
        with budget.reserve(60, "the image"):
            with lock:
                inside.append(1)
                peak.append(len(inside))
            time.sleep(0.3)
            with lock:
                inside.pop()

    threads = [threading.Thread(target=decode) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert max(peak) == 1 and len(peak) == 2  # both ran, never together


def test_a_decode_that_waits_too_long_is_busy():
    budget = DecodeBudget(limit_bytes=100, wait_s=0.2)
    with (
        budget.reserve(60, "the first"),
        pytest.raises(ImageRejected) as busy,
        budget.reserve(60, "the second"),
    ):
        pass
    assert busy.value.code == "busy"
    with budget.reserve(100, "the third"):  # the budget was given back
        pass
