"""The engine worker process: runs operations for a parent that may not risk running them itself.

``python -m restoration.engine.worker --memory-mb N`` reads requests from stdin and writes
replies to stdout, one pickled message per frame (``ipc``). It is long-lived: heavy modules are
imported once at start (``ready`` is sent when it is warm) and loaded models stay cached, so a
job pays neither. Everything dangerous happens here, not in the web server: a segfault inside
OpenCV, an allocation beyond the budget or an endless library call ends this process only.

Limits enforced by the operating system on this process:
- memory: ``RLIMIT_AS`` = the address space after warm-up + the budget, so the budget is what
  operations may use on top of the libraries; an allocation beyond it fails (``MemoryError``,
  or a crash in C code that does not check), and the parent reports it as such;
- time and cancel: the parent kills this process (SIGKILL), which stops even a single long
  library call at once.

After a memory error the process replies and exits: a C library that failed an allocation may
have left state behind, and a fresh worker is cheap compared with a wrong result.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from . import ipc

if TYPE_CHECKING:
    import numpy as np

# Messages in: {"kind": "run", ...} (see ``run_request``), {"kind": "ping"}, {"kind": "exit"}.
# Messages out: ready, progress, result, summary, error, pong.

_ALLOC_FAILURES = (
    "insufficient memory",  # OpenCV's cv::OutOfMemoryError
    "failed to allocate",  # OpenCV
    "can't allocate memory",  # torch's DefaultCPUAllocator
    "std::bad_alloc",
    "unable to allocate",  # numpy's _ArrayMemoryError text
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="restoration.engine.worker")
    parser.add_argument("--memory-mb", type=int, default=0, help="0: no limit")
    parser.add_argument("--no-warm", action="store_true", help="skip importing torch at start")
    args = parser.parse_args(argv)
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    inp = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    _warm(torch=not args.no_warm)
    limit = _limit_memory(args.memory_mb)
    ipc.send(out, {"kind": "ready", "pid": os.getpid(), "address_space_limit": limit})
    while True:
        try:
            message = ipc.recv(inp)
        except EOFError:
            return 0
        kind = message.get("kind")
        if kind == "exit":
            return 0
        if kind == "ping":
            ipc.send(out, {"kind": "pong"})
            continue
        if kind == "summary":
            send_summary(
                message["before"],
                message["after"],
                out,
                identity=bool(message.get("identity")),
                references=message.get("identity_references") or (),
            )
            continue
        if kind == "faces":
            send_faces(message, out)
            continue
        if kind in FILM_KINDS:
            if not run_film_request(message, out):
                return 3
            continue
        if kind != "run":
            ipc.send(out, {"kind": "error", "error": "bug", "message": f"unknown {kind!r}"})
            continue
        if not run_request(message, out):
            return 3  # exits after a memory error (see the module docstring)


def _warm(*, torch: bool) -> None:
    """Import what operations need, so the first job does not pay for it (and so the address
    space measured for the memory limit already includes the libraries)."""
    import cv2  # noqa: F401
    import numpy  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401

    from .registry import list_operations

    list_operations()
    if torch:
        with contextlib.suppress(ImportError):  # a classical-only installation has no torch
            import torch as _torch  # noqa: F401


def _limit_memory(budget_mb: int) -> int | None:
    if budget_mb <= 0:
        return None
    base = _address_space_bytes()
    limit = base + budget_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def run_request(message: dict[str, Any], out: BinaryIO) -> bool:
    """Run one operation and reply. Returns False when the process should exit."""
    from .registry import get_operation
    from .types import (
        BadInputError,
        OpInputs,
        ParamError,
        RunContext,
        UnavailableError,
    )

    last = [0.0]

    def progress(fraction: float) -> None:
        stamp = time.monotonic()
        if stamp - last[0] >= 0.2 or fraction >= 1.0:  # the pipe is not a log
            last[0] = stamp
            ipc.send(out, {"kind": "progress", "fraction": float(fraction)})

    try:
        op = get_operation(message["op"])
        ctx = RunContext(
            seed=int(message.get("seed", 0)),
            device=_device(str(message.get("device") or ""), op.kind),
            progress=progress,
            models=message.get("models") or {},
            mtcnn_dir=message.get("mtcnn_dir"),
        )
        image = message["image"]
        result = op.run(
            OpInputs(image=image, extra=message.get("extra") or {}), message["params"], ctx
        )
    except Exception as exc:  # every failure becomes a reply (see _send_failure)
        return _send_failure(out, exc, (BadInputError, ParamError, UnavailableError))
    ipc.send(
        out,
        {
            "kind": "result",
            "image": result.image,
            "outputs": result.outputs,
            "record": result.record,
            "device": ctx.device,
        },
    )
    # The parent encodes and stores the output meanwhile; the summary follows on its own.
    send_summary(
        image,
        result.image,
        out,
        identity=bool(message.get("identity")),
        transform=_geometry(op, image, message["params"]),
        references=message.get("identity_references") or (),
    )
    return True


def _geometry(op: Any, image: np.ndarray, params: Any) -> np.ndarray | None:
    """Where the operation moved the input's pixels (None: a plain resize, or unknown)."""
    try:
        transform: np.ndarray | None = op.geometry(image.shape, op.validate(params))
    except Exception:  # the geometry only pairs faces; the step itself already succeeded
        return None
    return transform


# --- films: files in, files out (frames never cross the pipe) ---------------------------------

FILM_KINDS = frozenset({"film", "film_join", "film_summary", "animate"})  # animate: issue 12


def run_film_request(message: dict[str, Any], out: BinaryIO) -> bool:
    """Run a film chunk, a join or a film change summary; frames stream from file to file in
    this process (``film_run``), only progress and small results cross the pipe. Returns
    False when the process should exit (after a memory error)."""
    from . import film_run
    from .types import BadInputError, ParamError, UnavailableError
    from .video import VideoRejected

    last = [0.0]

    def progress(done: int, total: int | None) -> None:
        stamp = time.monotonic()
        if stamp - last[0] >= 0.2 or (total and done >= total):
            last[0] = stamp
            fraction = min(1.0, done / total) if total else 0.0
            ipc.send(out, {"kind": "progress", "fraction": fraction, "frames": done})

    kind = message["kind"]
    try:
        if kind == "film":
            spec = film_run.ChunkSpec(**message["spec"])
            if spec.device == "" or spec.device == "auto":
                op = film_run.film_operation(spec.op)
                spec.device = _device("", op.kind_for(op.validate(spec.params)))
            result = film_run.run_film_chunk(spec, progress=progress)
            reply: dict[str, Any] = {
                "kind": "result",
                "film": {
                    "frames": result.frames,
                    "md5s": result.md5s,
                    "analysis": result.analysis,
                    "record": result.record,
                    "width": result.width,
                    "height": result.height,
                    "fps": result.fps,
                },
                "device": spec.device,
            }
        elif kind == "animate":  # issue 12: a still in, an FFV1 clip out (animate/encode.py)
            from .animate.encode import run_animate_request

            film = run_animate_request(message, progress)
            reply = {"kind": "result", "film": film, "device": "cpu"}
            if message.get("identity"):
                reply["identity"] = _video_identity(
                    "animation",
                    input_path=message["input_path"],
                    clip=message["output_path"],
                    frame_count=int(film["frames"]),
                    samples=int(message["identity"]),
                )
        elif kind == "film_join":
            total = message.get("total")
            joined = film_run.join_parts(
                message["parts"],
                message["output_path"],
                width=message["width"],
                height=message["height"],
                fps=message["fps"],
                audio_from=message.get("audio_from"),
                progress=lambda n: progress(n, total),
            )
            reply = {"kind": "result", "film": joined, "device": "cpu"}
        else:
            summary, strip = film_run.film_change_summary(**message["args"])
            reply = {"kind": "summary", "summary": summary, "strip": strip}
            if message.get("identity"):
                args = message["args"]
                reply["identity"] = _video_identity(
                    "film",
                    before=args["before"],
                    after=args["after"],
                    in_count=int(args["in_count"]),
                    out_count=int(args["out_count"]),
                    samples=int(message["identity"]),
                )
    except Exception as exc:  # every failure becomes a reply (see _send_failure)
        return _send_failure(out, exc, (BadInputError, ParamError, UnavailableError, VideoRejected))
    ipc.send(out, reply)
    return True


def send_summary(
    before: Any,
    after: Any,
    out: BinaryIO,
    *,
    identity: bool = False,
    transform: np.ndarray | None = None,
    references: Any = (),
) -> None:
    """Send the change summary of ``after`` against ``before``: after a job step's result, or
    alone for a manual step's upload. A summary is evidence, not the product: when it cannot
    be computed the step is recorded without it ({}), and the process carries on (the summary
    is numpy only, which leaves nothing behind after a MemoryError). With ``identity`` the
    reply also carries the faces' identity check (engine/identity.py), or why it is missing."""
    from .change import change_summary

    summary: dict[str, Any] = {}
    try:
        summary = change_summary(before, after)
    except Exception as exc:  # MemoryError included
        print(f"change summary failed: {exc!r}", file=sys.stderr)
    reply: dict[str, Any] = {"kind": "summary", "summary": summary}
    if identity:
        reply["identity"] = still_identity(before, after, transform, references)
    ipc.send(out, reply)


def send_faces(message: dict[str, Any], out: BinaryIO) -> None:
    """Measure the faces of a still (``image``) or of sampled frames of a video (``path``,
    ``frames``, ``samples``) for the archive's face index."""
    from . import identity

    missing = identity.available()
    if missing is not None:
        ipc.send(out, {"kind": "error", "error": "input", "message": missing})
        return
    try:
        if message.get("path"):
            indices = identity.sample_indices(int(message["frames"]), int(message["samples"]))
            frames = identity._frames_at(str(message["path"]), indices)
            found: list[tuple[int | None, identity.FaceMeasure]] = [
                (index, face)
                for index, frame in zip(indices, frames, strict=False)
                for face in identity.measure_faces(frame)
            ]
        else:
            found = [(None, face) for face in identity.measure_faces(message["image"])]
    except Exception as exc:  # MemoryError included: one artifact unindexed, not a dead worker
        _send_failure(out, exc, ())
        return
    faces = [
        {
            "frame": frame,
            **face.as_record(),
            "embedding": None if face.embedding is None else face.embedding.tobytes(),
        }
        for frame, face in found
    ]
    ipc.send(out, {"kind": "faces", "faces": faces, "method": identity.METHOD})


def _identity_or_error(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``check()``, the identity check of a step, or ``{"error": reason}`` when it cannot be
    made (a missing model, an image the detector cannot take, memory): evidence, not the
    product, so a failure never fails the step."""
    from . import identity

    missing = identity.available()
    if missing is not None:
        return {"error": missing}
    try:
        return check()
    except Exception as exc:  # MemoryError included
        print(f"identity check failed: {exc!r}", file=sys.stderr)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _video_identity(kind: str, **args: Any) -> dict[str, Any]:
    """The identity check of a video step: an animation (its still against sampled frames)
    or a film (sampled frame pairs)."""
    from . import identity

    def check() -> dict[str, Any]:
        if kind == "animation":
            import numpy as np

            still = np.load(args.pop("input_path"), allow_pickle=False)
            return identity.animation_identity(still, **args)
        return identity.film_identity(**args)

    return _identity_or_error(check)


def still_identity(
    before: Any, after: Any, transform: np.ndarray | None, references: Any = ()
) -> dict[str, Any]:
    """The identity check of a still step (see ``_identity_or_error``)."""
    from . import identity

    return _identity_or_error(
        lambda: identity.identity_check(before, after, transform=transform, references=references)
    )


def _send_failure(out: BinaryIO, exc: Exception, input_errors: tuple[type[Exception], ...]) -> bool:
    """Reply with what went wrong; called from an ``except`` block. Returns whether this
    worker may take another request: not after running out of memory (its heap is suspect)."""
    from .types import Cancelled

    if isinstance(exc, input_errors):
        ipc.send(out, {"kind": "error", "error": "input", "message": str(exc)})
        return True
    if isinstance(exc, Cancelled):
        ipc.send(out, {"kind": "error", "error": "cancelled", "message": str(exc)})
        return True
    if isinstance(exc, MemoryError) or _is_allocation_failure(exc):
        _send_memory_error(out, exc)
        return False
    ipc.send(
        out,
        {
            "kind": "error",
            "error": "engine",
            "message": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=20),
        },
    )
    return True


def _send_memory_error(out: BinaryIO, exc: BaseException) -> None:
    ipc.send(out, {"kind": "error", "error": "memory", "message": f"{type(exc).__name__}: {exc}"})


def _is_allocation_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _ALLOC_FAILURES)


def _device(configured: str, kind: str) -> str:
    """The operator's choice, else CUDA for AI operations when this machine has it."""
    if configured:
        return configured
    if kind != "ai":
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


if __name__ == "__main__":
    sys.exit(main())
