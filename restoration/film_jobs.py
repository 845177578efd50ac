"""Film steps of jobs: validation, chunking across workers, joining, recording.

A film step (an operation of ``restoration.engine.film``) runs on a video artifact. Frames never
pass through this process: an engine worker process (``restoration.executor``) streams them
from the input file through the operation into an FFV1/Matroska file, under its memory budget,
holding only the operation's window.

Chunks. A film longer than ``ARCHIVE_FILM_CHUNK_FRAMES`` is split into chunks, cut at shot
boundaries when they are known (a previous ``scene_detect``) and otherwise by length; each chunk
reads the operation's ``window`` of extra frames on both sides (context, never emitted), so the
joined outputs are exactly what one run over the film gives. The chunks are ``FilmChunk`` rows
and ``film_chunk_run`` messages: any worker (any number of them, on any machine) claims a pending
chunk, or one whose claimant stopped heartbeating for ``JOB_LEASE_SECONDS``, with a conditional
update, runs it and stores its output under ``chunks/``. The job's own runner (the coordinator)
works through chunks too while it waits, then joins the outputs (lossless), carries the audio
along, validates the result like an upload (``output_from_video``) and records one Step. A killed
worker costs its chunk only; a killed coordinator is replaced by the job's lease takeover, which
finds the finished chunks in the table. Progress counts frames; a cancel stops between frames
(the engine worker is killed at once) and the chunk workers stop at their next heartbeat.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from fractions import Fraction
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, connection
from django.db.models import F, Q

from restoration import dispatch
from restoration.engine.film_run import plan_chunks
from restoration.executor import OperationCancelled, OperationFailed, run_film_message
from restoration.jobstate import identity_samples, now
from restoration.models import Artifact, FilmChunk, Job, ModelWeights, Step
from restoration.services import (
    NewInput,
    artifact_local_path,
    discard_outputs,
    is_video,
    output_from_video,
    project_software_versions,
    sidecar_store,
    step_record_or_discard,
)

logger = logging.getLogger(__name__)
Chunk = FilmChunk.Status


class FilmStepFailed(Exception):
    """A film step cannot succeed (bad input, engine error): the job fails with the reason."""


class FilmStepCancelled(Exception):
    """The job was cancelled (or its claim lost) while a film step ran."""


def is_film_operation(name: Any) -> bool:
    from restoration.engine.film_run import film_operation_names

    return isinstance(name, str) and name in film_operation_names()


def get_film_op(name: str) -> Any:
    from restoration.engine.film_run import film_operation

    return film_operation(name)


def _tmp_dir() -> Path:
    path = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tmp_path(prefix: str, suffix: str = ".mkv") -> str:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - only its unique name is used
        dir=_tmp_dir(), prefix=prefix, suffix=suffix, delete=False
    )
    handle.close()
    return handle.name


def _unlink(path: str | None) -> None:
    if path:
        with suppress(FileNotFoundError):
            Path(path).unlink()


def chunk_frames_setting() -> int:
    return max(4, int(settings.ARCHIVE_FILM_CHUNK_FRAMES))


# --- planning --------------------------------------------------------------------------------


# --- validation (job_create) -------------------------------------------------------------------


def validate_film_step(
    op: Any, params: Any, where: str, errors: dict[str, list[str]]
) -> dict[str, Any] | None:
    """The op's own validation, with each problem named by field like still steps."""
    from restoration.engine import EngineError, ParamError
    from restoration.registry import engine_env

    availability = op.availability(engine_env())
    if not availability.ok:
        errors.setdefault(f"{where}.op", []).append(
            f"operation {op.name!r} is unavailable here: {availability.reason}"
        )
        return None
    try:
        return dict(op.validate(params))
    except ParamError as exc:
        field = exc.field if exc.field == "params" else f"params.{exc.field}"
        errors.setdefault(f"{where}.{field}", []).append(exc.message)
    except EngineError as exc:
        errors.setdefault(f"{where}.params", []).append(str(exc))
    return None


def film_meta_of(artifact: Artifact, *, shots: Sequence[int] | None = None) -> Any:
    from restoration.engine.film import FilmMeta

    return FilmMeta(
        width=int(artifact.width),
        height=int(artifact.height),
        fps=_fps(artifact),
        frame_count=int(artifact.frame_count or 0) or None,
        shots=tuple(shots) if shots is not None else film_shots(artifact),
    )


def _fps(artifact: Artifact) -> Fraction:
    text = artifact.fps or "24/1"
    num, _, den = text.partition("/")
    return Fraction(int(num), int(den or 1))


def film_shots(artifact: Artifact) -> tuple[int, ...] | None:
    """Shot starts known for a film: from its own facts, else from the latest step that
    produced these bytes and found or carried them (a ``scene_detect`` passes frames through
    unchanged, so its output is often an artifact that already existed)."""
    shots = (artifact.info or {}).get("shots")
    if isinstance(shots, list):
        return tuple(int(s) for s in shots)
    records = (
        Step.objects.filter(produced__artifact=artifact)
        .order_by("-id")
        .values_list("run_record", flat=True)[:5]
    )
    for record in records:
        found = (record or {}).get("shots")
        if isinstance(found, list):
            return tuple(int(s) for s in found)
    return None


# --- the coordinator (in the job's runner) -------------------------------------------------


def run_film_step(
    *,
    job: Job,
    index: int,
    spec: Mapping[str, Any],
    source: Artifact,
    worker_tag: str,
    report: Callable[[float], None],
    should_stop: Callable[[], bool],
    time_limit_s: float,
) -> Artifact:
    """Run film step ``index`` of ``job`` on ``source`` and record it; returns its output.

    Raises ``FilmStepFailed`` (the job fails with the reason) or ``FilmStepCancelled``."""
    if not is_video(source):
        raise FilmStepFailed(
            f"step {index + 1} ({spec['op']}): its input, artifact {source.pk}, is not a film"
        )
    op = get_film_op(spec["op"])
    params: dict[str, Any] = dict(spec.get("params") or {})
    meta = film_meta_of(source)
    frame_count = int(source.frame_count or 0)
    window = int(op.window(params))
    plan = plan_chunks(frame_count, shots=meta.shots, window=window, size=chunk_frames_setting())
    if not plan:
        raise FilmStepFailed(f"step {index + 1} ({op.name}): the input film has no frames")
    started = now()
    try:
        return _coordinate(
            job=job,
            index=index,
            op=op,
            params=params,
            spec=spec,
            source=source,
            plan=plan,
            started=started,
            worker_tag=worker_tag,
            report=report,
            should_stop=should_stop,
            time_limit_s=time_limit_s,
        )
    except (FilmStepFailed, FilmStepCancelled):
        # The job ends here: the chunk outputs will never be joined.
        _cleanup_chunks(list(FilmChunk.objects.filter(job=job, job_index=index)))
        raise


def _coordinate(
    *,
    job: Job,
    index: int,
    op: Any,
    params: dict[str, Any],
    spec: Mapping[str, Any],
    source: Artifact,
    plan: list[tuple[int, int, int, int]],
    started: dt.datetime,
    worker_tag: str,
    report: Callable[[float], None],
    should_stop: Callable[[], bool],
    time_limit_s: float,
) -> Artifact:
    rows = _ensure_chunks(job, index, plan)
    total_frames = sum(r.emit_stop - r.emit_start for r in rows)
    deadline = time.monotonic() + time_limit_s
    if len(rows) > 1:
        _enqueue_chunks(job.pk, index, [r.number for r in rows if r.status != Chunk.DONE])
    # Work through the chunks; other workers take some meanwhile.
    while True:
        if should_stop():
            raise FilmStepCancelled("cancelled on request")
        state = list(FilmChunk.objects.filter(job=job, job_index=index).order_by("number"))
        done_frames = sum(
            (c.emit_stop - c.emit_start) if c.status == Chunk.DONE else c.frames_done for c in state
        )
        report(done_frames / max(1, total_frames))
        if all(c.status == Chunk.DONE for c in state):
            break
        if time.monotonic() > deadline:
            raise FilmStepFailed(
                f"step {index + 1} ({op.name}): exceeded its time limit of {time_limit_s:g} s"
            )
        claimed = claim_chunk(job.pk, index, worker_tag)
        if claimed is None:
            time.sleep(0.25)
            continue
        base = done_frames

        def progress(n: int, _base: int = base) -> None:
            report(min(1.0, (_base + n) / max(1, total_frames)))

        run_chunk(
            claimed,
            job=job,
            spec=spec,
            source=source,
            worker_tag=worker_tag,
            should_stop=should_stop,
            on_frames=progress,
            time_limit_s=max(1.0, deadline - time.monotonic()),
        )
    chunks = list(FilmChunk.objects.filter(job=job, job_index=index).order_by("number"))
    return _join_and_record(
        job=job,
        index=index,
        op=op,
        params=params,
        spec=spec,
        source=source,
        chunks=chunks,
        started=started,
        should_stop=should_stop,
        time_limit_s=max(30.0, deadline - time.monotonic()),
    )


def _ensure_chunks(job: Job, index: int, plan: list[tuple[int, int, int, int]]) -> list[FilmChunk]:
    existing = list(FilmChunk.objects.filter(job=job, job_index=index).order_by("number"))
    if existing:
        return existing
    rows = [
        FilmChunk(
            job=job,
            job_index=index,
            number=n,
            read_start=lo,
            read_stop=hi,
            emit_start=a,
            emit_stop=b,
        )
        for n, (lo, hi, a, b) in enumerate(plan)
    ]
    FilmChunk.objects.bulk_create(rows, ignore_conflicts=True)
    return list(FilmChunk.objects.filter(job=job, job_index=index).order_by("number"))


def _enqueue_chunks(job_id: int, index: int, numbers: list[int]) -> None:
    """One ``film_chunk_run`` message per chunk, on the queue the job itself went to
    (``restoration.dispatch.job_queue``: the GPU queue for a film job with an AI step)."""
    try:
        pipeline = Job.objects.values_list("pipeline", flat=True).get(pk=job_id)
        queue = dispatch.job_queue(pipeline)
        for number in numbers:
            dispatch.send("film_chunk_run", (job_id, index, number), queue=queue)
    except Exception:  # the coordinator runs every chunk itself if the broker is down
        logger.exception("job %s: could not enqueue film chunks", job_id)


def claim_chunk(job_id: int, index: int, tag: str) -> FilmChunk | None:
    """Claim the first pending chunk, or the first whose claimant's lease expired."""
    stamp = now()
    expired = stamp - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)
    candidates = FilmChunk.objects.filter(job_id=job_id, job_index=index).filter(
        Q(status=Chunk.PENDING) | Q(status=Chunk.RUNNING, heartbeat_at__lt=expired)
    )
    for chunk in candidates.order_by("number")[:8]:
        if _claim(chunk, tag, stamp):
            chunk.refresh_from_db()
            return chunk
    return None


def claim_chunk_number(job_id: int, index: int, number: int, tag: str) -> FilmChunk | None:
    chunk = FilmChunk.objects.filter(job_id=job_id, job_index=index, number=number).first()
    if chunk is None or chunk.status == Chunk.DONE:
        return None
    stamp = now()
    if (
        chunk.status == Chunk.RUNNING
        and chunk.heartbeat_at
        and (stamp - chunk.heartbeat_at) < dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)
    ):
        return None
    if _claim(chunk, tag, stamp):
        chunk.refresh_from_db()
        return chunk
    return None


def _claim(chunk: FilmChunk, tag: str, stamp: dt.datetime) -> bool:
    return (
        FilmChunk.objects.filter(
            pk=chunk.pk,
            status=chunk.status,
            claimed_by=chunk.claimed_by,
            heartbeat_at=chunk.heartbeat_at,
        ).update(
            status=Chunk.RUNNING,
            claimed_by=tag,
            heartbeat_at=stamp,
            attempts=F("attempts") + 1,
            frames_done=0,
        )
        == 1
    )


class _ChunkBeat:
    """Heartbeats a claimed chunk off the running thread; notes cancel and lost claims."""

    def __init__(self, chunk: FilmChunk, tag: str, interval: float) -> None:
        self.chunk_id = chunk.pk
        self.job_id = chunk.job_id
        self.tag = tag
        self.interval = interval
        self.frames = 0
        self.lost = False
        self.cancel = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="film-chunk-beat")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    held = FilmChunk.objects.filter(
                        pk=self.chunk_id, status=Chunk.RUNNING, claimed_by=self.tag
                    ).update(heartbeat_at=now(), frames_done=self.frames)
                    self.lost = held != 1
                    job = (
                        Job.objects.filter(pk=self.job_id)
                        .values_list("status", "cancel_requested")
                        .first()
                    )
                    self.cancel = job is None or bool(job[1]) or job[0] != Job.Status.RUNNING
                except DatabaseError:
                    logger.warning("film chunk %s: heartbeat failed", self.chunk_id)
                    connection.close()
        finally:
            connection.close()


def run_chunk(
    chunk: FilmChunk,
    *,
    job: Job,
    spec: Mapping[str, Any],
    source: Artifact,
    worker_tag: str,
    should_stop: Callable[[], bool] = lambda: False,
    on_frames: Callable[[int], None] = lambda n: None,
    time_limit_s: float = 3600.0,
) -> bool:
    """Run one claimed chunk in an engine worker and store its output; returns whether this
    worker recorded it (False: cancelled, claim lost). Raises ``FilmStepFailed``."""
    beat = _ChunkBeat(chunk, worker_tag, interval=min(1.0, settings.JOB_LEASE_SECONDS / 4))
    beat.start()
    out_path = _tmp_path(f"chunk-{job.pk}-{chunk.job_index}-{chunk.number}-")

    def frames(n: int) -> None:
        beat.frames = n
        on_frames(n)

    try:
        with artifact_local_path(source) as input_path:
            message = {
                "kind": "film",
                "spec": _chunk_spec(chunk, spec, source, str(input_path), out_path, job),
            }
            try:
                reply = run_film_message(
                    message,
                    report=lambda fraction: None,
                    should_cancel=lambda: should_stop() or beat.cancel or beat.lost,
                    time_limit_s=time_limit_s,
                    frames=frames,
                )
            except OperationCancelled:
                return False
            except OperationFailed as exc:
                raise FilmStepFailed(
                    f"step {chunk.job_index + 1} ({spec['op']}), frames {chunk.emit_start}-"
                    f"{chunk.emit_stop - 1}: {exc}"
                ) from exc
        result = reply["film"]
        key = ""
        if result["frames"]:
            key = f"chunks/{job.pk}/{chunk.job_index}/{chunk.number}-{worker_tag_safe(worker_tag)}.mkv"
            with open(out_path, "rb") as fh:
                if not default_storage.exists(key):
                    default_storage.save(key, ContentFile(fh.read()))
        payload = {
            "analysis": result["analysis"],
            "record": result["record"],
            "md5s": result["md5s"],
            "width": result["width"],
            "height": result["height"],
            "fps": result["fps"],
            "device": reply.get("device", ""),
        }
        finished = FilmChunk.objects.filter(
            pk=chunk.pk, status=Chunk.RUNNING, claimed_by=worker_tag
        ).update(
            status=Chunk.DONE,
            output_key=key,
            frames_out=int(result["frames"]),
            frames_done=chunk.emit_stop - chunk.emit_start,
            result=json.loads(json.dumps(payload, default=str)),
            done_at=now(),
        )
        ended = (
            Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            != Job.Status.RUNNING
        )
        if (finished != 1 or ended) and key:
            # Not ours any more, or the job ended meanwhile: nobody will join this file.
            with suppress(OSError):
                default_storage.delete(key)
        return finished == 1 and not ended
    finally:
        beat.stop()
        _unlink(out_path)


def worker_tag_safe(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()[:12]


def _chunk_spec(
    chunk: FilmChunk,
    spec: Mapping[str, Any],
    source: Artifact,
    input_path: str,
    output_path: str,
    job: Job,
) -> dict[str, Any]:
    from restoration.registry import model_ref

    resolved = spec.get("resolved") or {}
    models = {}
    for name, pk in (resolved.get("models") or {}).items():
        weights = ModelWeights.objects.filter(pk=pk).first()
        if weights is None:
            raise FilmStepFailed(
                f"step {chunk.job_index + 1} ({spec['op']}): the model chosen for {name!r} was removed"
            )
        models[name] = model_ref(weights)
    inputs = {}
    for name, pk in (resolved.get("artifacts") or {}).items():
        artifact = Artifact.objects.filter(pk=pk).first()
        if artifact is None:
            raise FilmStepFailed(
                f"step {chunk.job_index + 1} ({spec['op']}): artifact for {name!r} no longer exists"
            )
        inputs[name] = _decode_still(artifact)
    meta = film_meta_of(source)
    return {
        "op": spec["op"],
        "params": dict(spec.get("params") or {}),
        "input_path": input_path,
        "output_path": output_path,
        "width": meta.width,
        "height": meta.height,
        "fps": f"{meta.fps.numerator}/{meta.fps.denominator}",
        "frame_count": meta.frame_count,
        "shots": list(meta.shots) if meta.shots is not None else None,
        "read_start": chunk.read_start,
        "read_stop": chunk.read_stop,
        "emit_start": chunk.emit_start,
        "emit_stop": chunk.emit_stop,
        "seed": job.seed,
        "device": str(settings.ARCHIVE_DEVICE or ""),
        "models": models,
        "inputs": inputs,
        "mtcnn_dir": _mtcnn_dir(spec),
    }


def _mtcnn_dir(spec: Mapping[str, Any]) -> Any:
    from restoration.registry import mtcnn_dir

    op = get_film_op(spec["op"])
    return mtcnn_dir() if op.kind_for(dict(spec.get("params") or {})) == "ai" else None


def _decode_still(artifact: Artifact) -> Any:
    from restoration import imagefile
    from restoration.storage import open_object

    try:
        with open_object(artifact.sha256) as fh:
            image = imagefile.decode_rgb_or_grey(fh.read(), max_pixels=settings.ARCHIVE_MAX_PIXELS)
    except (FileNotFoundError, imagefile.ImageRejected, ValueError, OSError) as exc:
        raise FilmStepFailed(f"artifact {artifact.pk} cannot be used: {exc}") from exc
    import numpy as np

    if image.dtype != np.uint8:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image


# --- join and record ---------------------------------------------------------------------


def _audio_kept(source: Artifact, out_frames: int, out_fps: str) -> tuple[bool, str]:
    audio = (source.info or {}).get("audio") or []
    if not audio:
        return False, ""
    num, _, den = out_fps.partition("/")
    out_duration = out_frames * int(den or 1) / int(num)
    in_duration = float(source.duration or 0)
    tolerance = max(1.0 / float(_fps(source)), 0.005 * in_duration)
    if abs(out_duration - in_duration) <= tolerance:
        return True, "audio carried along (the film kept its duration)"
    return False, (
        f"audio not carried: the step changed the film's duration from {in_duration:.3f} s to "
        f"{out_duration:.3f} s (its speed), so the sound would no longer be in sync"
    )


def _join_and_record(
    *,
    job: Job,
    index: int,
    op: Any,
    params: dict[str, Any],
    spec: Mapping[str, Any],
    source: Artifact,
    chunks: list[FilmChunk],
    started: dt.datetime,
    should_stop: Callable[[], bool],
    time_limit_s: float,
) -> Artifact:
    results = [c.result for c in chunks]
    first = next((r for r in results if r.get("width")), results[0])
    width, height, fps = int(first["width"]), int(first["height"]), str(first["fps"])
    out_frames = sum(c.frames_out for c in chunks)
    if out_frames == 0:
        raise FilmStepFailed(f"step {index + 1} ({op.name}): the operation produced no frames")
    keep_audio, audio_note = _audio_kept(source, out_frames, fps)
    joined = _tmp_path(f"film-{job.pk}-{index}-")
    parts: list[str] = []
    outputs = []
    try:
        with artifact_local_path(source) as input_path:
            for chunk in chunks:
                if not chunk.output_key:
                    continue
                local = _tmp_path(f"part-{job.pk}-{index}-{chunk.number}-")
                with default_storage.open(chunk.output_key, "rb") as src, open(local, "wb") as dst:
                    for block in iter(functools.partial(src.read, 1024 * 1024), b""):
                        dst.write(block)
                parts.append(local)
            try:
                reply = run_film_message(
                    {
                        "kind": "film_join",
                        "parts": parts,
                        "output_path": joined,
                        "width": width,
                        "height": height,
                        "fps": fps,
                        "audio_from": str(input_path) if keep_audio else None,
                        "total": out_frames,
                    },
                    report=lambda fraction: None,
                    should_cancel=should_stop,
                    time_limit_s=time_limit_s,
                )
            except OperationCancelled as exc:
                raise FilmStepCancelled(str(exc)) from exc
            except OperationFailed as exc:
                raise FilmStepFailed(
                    f"step {index + 1} ({op.name}): joining failed: {exc}"
                ) from exc
            md5s = [h for r in results for h in r.get("md5s", [])]
            if reply["film"]["md5s"] != md5s:
                raise FilmStepFailed(
                    f"step {index + 1} ({op.name}): the joined film does not match its chunks"
                )
            output = output_from_video(joined)
            outputs.append(output)
            analysis = op.merge_analysis([r.get("analysis") or {} for r in results])
            dropped = analysis.get("dropped")
            change, strip, identity = _summary(
                source,
                str(input_path),
                joined,
                output,
                should_stop,
                dropped=[int(i) for i in dropped] if isinstance(dropped, list) else None,
            )
    finally:
        for part in parts:
            _unlink(part)
        _unlink(joined)
    analysis_sha = _store_json(analysis)
    record = dict(first.get("record") or {})
    record.setdefault("output", {})
    record["output"] = {**record["output"], "frames": out_frames, "fps": fps}
    record["input"] = {**(record.get("input") or {}), "frames": source.frame_count, "start": 0}
    record["analysis_sha256"] = analysis_sha
    record["chunks"] = [
        {
            "number": c.number,
            "frames": [c.emit_start, c.emit_stop],
            "read": [c.read_start, c.read_stop],
            "frames_out": c.frames_out,
            "attempts": c.attempts,
        }
        for c in chunks
    ]
    record["audio"] = audio_note
    from restoration.engine.film.base import summarise

    record["facts"] = summarise(analysis)
    if strip:
        change["strip_sha256"] = sidecar_store(strip)
    shots = _output_shots(op, params, source, analysis, out_frames)
    if shots is not None:
        output.info = {**output.info, "shots": shots}
        record["shots"] = shots
    weights = None
    for pk in ((spec.get("resolved") or {}).get("models") or {}).values():
        weights = ModelWeights.objects.filter(pk=pk).first()
    citation_ids = _citations(analysis, record)
    try:
        step = step_record_or_discard(
            kind=op.kind_for(params),
            operation=op.name,
            operation_version=op.version,
            parameters=params,
            inputs=[NewInput(role="image", artifact=source)]
            + [
                NewInput(role=name, artifact=a)
                for name, pk in sorted(
                    ((spec.get("resolved") or {}).get("artifacts") or {}).items()
                )
                if (a := Artifact.objects.filter(pk=pk).first()) is not None
            ],
            outputs=outputs,
            started_at=started,
            ended_at=now(),
            user=job.requester,
            on_behalf_of=job.on_behalf_of,
            weights=weights,
            software={**project_software_versions(), **(record.get("software") or {})},
            device=str(first.get("device") or ""),
            seed=job.seed,
            citation_ids=citation_ids,
            run_record=record,
            change_summary=change,
            identity=identity,
            job_id=job.pk,
            job_index=index,
        )
    except IntegrityError:
        existing = Step.objects.filter(job=job, job_index=index).first()
        if existing is None:
            raise
        artifact = existing.output("image") or Artifact.objects.get(
            produced_by__step=existing, produced_by__role="image"
        )
        return artifact
    made = step.output("image")
    assert made is not None
    _cleanup_chunks(chunks)
    return made


def _bytes(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def _store_json(value: Any) -> str:
    return sidecar_store(json.dumps(value, sort_keys=True, default=str).encode())


def _output_shots(
    op: Any, params: dict[str, Any], source: Artifact, analysis: dict[str, Any], out_frames: int
) -> list[int] | None:
    """Shot starts of the output: found by this step, or carried over a 1:1 step."""
    if isinstance(analysis.get("shots"), list):
        return [int(s) for s in analysis["shots"]]
    if isinstance(analysis.get("cuts"), list):
        return sorted({0, *(int(c) for c in analysis["cuts"])})
    shots = film_shots(source)
    if shots is not None and out_frames == source.frame_count:
        return list(shots)
    return None


def _citations(analysis: Mapping[str, Any], record: Mapping[str, Any]) -> list[int]:
    from archive.models import Citation

    wanted = set()
    for value in list(analysis.get("citations") or []) + list(record.get("citations") or []):
        if isinstance(value, int) and not isinstance(value, bool):
            wanted.add(value)
        elif isinstance(value, str) and value.isdigit():
            wanted.add(int(value))
    if not wanted:
        return []
    return sorted(Citation.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def _summary(
    source: Artifact,
    input_path: str,
    output_path: str,
    output: Any,
    should_stop: Callable[[], bool],
    dropped: list[int] | None = None,
) -> tuple[dict[str, Any], bytes | None, dict[str, Any] | None]:
    """The change summary, the strip of before/after thumbnails and the identity check."""
    try:
        reply = run_film_message(
            {
                "kind": "film_summary",
                "args": {
                    "before": input_path,
                    "after": output_path,
                    "in_fps": source.fps,
                    "out_fps": output.fps,
                    "in_count": int(source.frame_count or 0),
                    "out_count": int(output.frame_count or 0),
                    "dropped": dropped,
                },
                # frames sampled for the identity check (0: none)
                "identity": identity_samples(),
            },
            report=lambda fraction: None,
            should_cancel=should_stop,
            time_limit_s=1800,
        )
    except OperationCancelled as exc:
        raise FilmStepCancelled(str(exc)) from exc
    except OperationFailed:
        logger.warning("film change summary failed", exc_info=True)
        return {}, None, None
    return dict(reply.get("summary") or {}), reply.get("strip"), reply.get("identity")


def _cleanup_chunks(chunks: list[FilmChunk]) -> None:
    for chunk in chunks:
        if chunk.output_key:
            with suppress(OSError):
                default_storage.delete(chunk.output_key)


# --- the chunk actor's work --------------------------------------------------------------------


def chunk_run(job_id: int, index: int, number: int, tag: str) -> str:
    """A ``film_chunk_run`` message: run that chunk unless it is done or claimed and alive."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != Job.Status.RUNNING or job.cancel_requested:
        return "skipped"
    chunk = claim_chunk_number(job_id, index, number, tag)
    if chunk is None:
        return "skipped"
    spec = job.pipeline[index]
    source = _step_input(job, index)
    try:
        ok = run_chunk(chunk, job=job, spec=spec, source=source, worker_tag=tag)
    except FilmStepFailed as exc:
        # The coordinator meets the same failure when it takes the chunk; release it now.
        FilmChunk.objects.filter(pk=chunk.pk, claimed_by=tag).update(
            status=Chunk.PENDING, claimed_by="", heartbeat_at=None
        )
        logger.warning("job %s chunk %s failed: %s", job_id, number, exc)
        return "failed"
    return "done" if ok else "stopped"


def _step_input(job: Job, index: int) -> Artifact:
    if index == 0:
        return job.input
    previous = Step.objects.filter(job=job, job_index=index - 1).first()
    if previous is None:
        raise FilmStepFailed(f"step {index} of job {job.pk} is not recorded yet")
    output = previous.output("image")
    if output is None:
        output = Artifact.objects.get(produced_by__step=previous, produced_by__role="image")
    return output


def discard(outputs: Sequence[Any]) -> None:
    discard_outputs(outputs)


# --- admission and limits (job_create) ---------------------------------------------------------


def film_pipeline_errors(
    *, source: Artifact, pipeline: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """A pipeline on a film must be made of film operations (a still operation goes through
    ``per_frame``), and a film operation needs a film; each step's predicted peak memory (it
    depends on the frame size and the window, never on the length) must fit the workers'
    budget. ``{"steps[i]...": [reason]}`` for the first problem; {} when it fits."""
    budget = int(settings.ARCHIVE_WORKER_MEMORY_MB) * 2**20
    video = is_video(source)
    meta = film_meta_of(source) if video else None
    for index, spec in enumerate(pipeline):
        name = spec["op"]
        if not is_film_operation(name):
            if video:
                return {
                    f"steps[{index}].op": [
                        f"{name!r} is an operation on still images and artifact {source.pk} is a "
                        f"film; run it over every frame with "
                        f'{{"op": "per_frame", "params": {{"op": "{name}", ...}}}}'
                    ]
                }
            continue
        if not video:
            return {
                f"steps[{index}].op": [
                    f"{name!r} is a film operation and artifact {source.pk} is a still image "
                    f"({source.media_type})"
                ]
            }
        op = get_film_op(name)
        params = dict(spec.get("params") or {})
        assert meta is not None
        footprint = op.footprint(meta, params)
        if footprint.peak_bytes > budget:
            return {
                f"steps[{index}]": [
                    f"{name} on {meta.width}x{meta.height} frames would need about "
                    f"{footprint.peak_bytes / 2**20:,.0f} MiB, over the engine workers' memory "
                    f"budget of {budget / 2**20:,.0f} MiB (ARCHIVE_WORKER_MEMORY_MB)"
                ]
            }
        # The next step sees this one's output.
        from restoration.engine.film import FilmMeta

        out_w, out_h = op.output_size(meta, params)
        out_fps = op.output_fps(meta, params)
        count = op.output_frame_count(meta, params) or meta.frame_count
        meta = FilmMeta(width=out_w, height=out_h, fps=out_fps, frame_count=count)
    return {}


def film_time_limits(
    source: Artifact, pipeline: Sequence[Mapping[str, Any]], limits: list[int]
) -> tuple[int, list[int]]:
    """Film steps get time by length: ``ARCHIVE_FILM_SECONDS_PER_FRAME`` (classical) or
    ``ARCHIVE_FILM_AI_SECONDS_PER_FRAME`` per frame of the input, at least the still limit."""
    per_frame = {
        "classical": float(settings.ARCHIVE_FILM_SECONDS_PER_FRAME),
        "ai": float(settings.ARCHIVE_FILM_AI_SECONDS_PER_FRAME),
    }
    frames = int(source.frame_count or 0)
    out = list(limits)
    for index, spec in enumerate(pipeline):
        if is_film_operation(spec["op"]):
            op = get_film_op(spec["op"])
            kind = op.kind_for(dict(spec.get("params") or {}))
            out[index] = max(out[index], int(60 + frames * per_frame.get(kind, 2.0)))
    return 300 + sum(out), out


def film_operations_listing() -> list[dict[str, Any]]:
    """The film operations for ``/operations/``, in the shape of the still ones plus
    ``media: "film"`` (test-only operations are left out)."""
    from restoration.engine.film_run import film_operation_names
    from restoration.registry import engine_env

    env = engine_env()
    return [
        film_operation_entry(name, env)
        for name in film_operation_names()
        if not name.startswith("test_")
    ]


def film_operation_entry(name: str, env: Any = None) -> dict[str, Any]:
    from restoration.registry import engine_env

    op = get_film_op(name)
    availability = op.availability(env if env is not None else engine_env())
    return {
        "name": op.name,
        "version": op.version,
        "kind": op.kind,
        "description": op.description,
        "params_schema": op.json_schema(),
        "input_roles": {},
        "output_roles": [],
        "available": bool(availability.ok),
        "reason": availability.reason,
        "media": "film",
    }
