"""`animate` steps of jobs (issue 12): a still in, a video artifact out, a `synthetic` step.

The clip is rendered in an engine worker process (``restoration.executor``, the film protocol's
``animate`` request: files, not frames, cross the pipe), written losslessly to FFV1/Matroska,
then validated and stored like any video (``services.output_from_video``: content-addressed,
per-frame hash manifest, poster, H.264 proxy for the pages) and recorded with
``step_record_or_discard`` as kind ``synthetic``: never as a restoration.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from restoration.executor import OperationCancelled, OperationFailed, run_film_message
from restoration.jobstate import identity_samples, now
from restoration.models import Artifact, Job, Step
from restoration.services import (
    NewInput,
    discard_outputs,
    is_video,
    output_from_video,
    project_software_versions,
    step_record_or_discard,
)

OPERATION = "animate"


class AnimateStepFailed(Exception):
    """The step cannot succeed (no face, bad input, engine error): the job fails with this."""


class AnimateStepCancelled(Exception):
    """The job was cancelled while the clip was being made."""


def is_animate_step(spec: Mapping[str, Any]) -> bool:
    return spec.get("op") == OPERATION


def animate_pipeline_errors(
    *, source: Artifact, pipeline: Sequence[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """`animate` takes a still and makes a video: it must run on a still and be the last step
    (the pages and exports treat its output as an animation, not as a restoration)."""
    for index, spec in enumerate(pipeline):
        if not is_animate_step(spec):
            continue
        if index != len(pipeline) - 1:
            return {
                f"steps[{index}].op": [
                    "animate makes a video from a still: it must be the last step of the job"
                ]
            }
        if index == 0 and is_video(source):
            return {
                f"steps[{index}].op": [
                    f"animate needs a still image and artifact {source.pk} is a video "
                    f"({source.media_type})"
                ]
            }
    return {}


def localise_animate_labels(pipeline: Sequence[Mapping[str, Any]]) -> None:
    """Put the burnt-in label of every `animate` step into the requester's interface language
    (the language active for this request: Django's LocaleMiddleware, from the session,
    cookie or Accept-Language), in place, when the job is created: the worker that renders
    the clip later has no request. Only the default text is translated (a caller's own
    `label_text` is theirs); a language without a translation keeps the English default."""
    from django.utils.translation import gettext

    from restoration.engine.animate.op import DEFAULT_LABEL

    for spec in pipeline:
        params = spec.get("params")
        if not is_animate_step(spec) or not isinstance(params, dict):
            continue
        if params.get("label_text") == DEFAULT_LABEL:
            params["label_text"] = gettext(DEFAULT_LABEL)


def _tmp_dir() -> Path:
    path = Path(settings.ARCHIVE_DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_animate_step(
    *,
    job: Job,
    index: int,
    spec: Mapping[str, Any],
    source: Artifact,
    image: np.ndarray,
    report: Callable[[float], None],
    should_stop: Callable[[], bool],
    time_limit_s: float,
) -> Step:
    """Render, store and record one `animate` step; returns the recorded Step."""
    from restoration.engine import get_operation

    op = get_operation(OPERATION)
    params = dict(spec.get("params") or {})
    started = now()
    with tempfile.TemporaryDirectory(dir=_tmp_dir(), prefix="animate-") as tmp:
        still = Path(tmp) / "still.npy"
        clip = Path(tmp) / "clip.mkv"
        np.save(still, np.ascontiguousarray(image), allow_pickle=False)
        try:
            reply = run_film_message(
                {
                    "kind": "animate",
                    "input_path": str(still),
                    "output_path": str(clip),
                    "params": params,
                    "seed": job.seed,
                    # frames sampled for the identity check (0: none)
                    "identity": identity_samples(),
                },
                report=report,
                should_cancel=should_stop,
                time_limit_s=time_limit_s,
            )
        except OperationCancelled as exc:
            raise AnimateStepCancelled(str(exc)) from exc
        except OperationFailed as exc:
            raise AnimateStepFailed(f"step {index + 1} (animate): {exc}") from exc
        if reply.get("kind") == "error":
            raise AnimateStepFailed(f"step {index + 1} (animate): {reply.get('message')}")
        result = reply["film"]
        ended = now()
        output = output_from_video(clip, role="image")
        # The hashes the worker took of the frames it rendered must be those of the frames
        # decoded back from the stored file (FFV1 is lossless): the manifest proves it.
        if output.info.get("manifest_sha256") != _manifest_sha256(result):
            discard_outputs([output])
            raise AnimateStepFailed(
                f"step {index + 1} (animate): the stored frames differ from those rendered"
            )
        record = dict(result["record"])
        return step_record_or_discard(
            kind=Step.Kind.SYNTHETIC,
            operation=op.name,
            operation_version=op.version,
            parameters=op.validate(params),
            inputs=[NewInput(role="image", artifact=source)],
            outputs=[output],
            started_at=started,
            ended_at=ended,
            user=job.requester,
            on_behalf_of=job.on_behalf_of,
            software={**project_software_versions(), **(record.get("software") or {})},
            device="cpu",
            seed=job.seed,
            run_record=record,
            identity=reply.get("identity"),
            job_id=job.pk,
            job_index=index,
        )


def _manifest_sha256(result: Mapping[str, Any]) -> str:
    import hashlib
    from fractions import Fraction

    from restoration.engine.video import manifest_text

    text = manifest_text(
        list(result["md5s"]),
        fps=Fraction(str(result["fps"])),
        width=int(result["width"]),
        height=int(result["height"]),
    )
    return hashlib.sha256(text.encode()).hexdigest()
