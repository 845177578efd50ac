"""The model registry: which weights files this installation has, and whether each may be used.

Steps cite weights by sha256; the registry is the only place that maps a model's name or id
to a file, and the only place that decides a registered model's usability.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from restoration.engine import EngineEnv, EngineError, ModelRef, inspect_weights
from restoration.models import ModelWeights

WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
MTCNN_FILES = ("pnet.pt", "rnet.pt", "onet.pt")


@dataclass(frozen=True)
class ScanOutcome:
    path: Path
    status: str  # registered, known, moved, unrecognised, missing
    detail: str
    weights: ModelWeights | None = None


class ModelNotUsable(ValueError):
    """A model named in a request cannot be used; the message says why."""


def weights_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES and p.parent.name != "mtcnn"
    )


def models_scan(*, directories: Iterable[Path] | None = None) -> list[ScanOutcome]:
    """Register every weights file found (MODELS_DIR by default); mark vanished files."""
    dirs = list(directories) if directories is not None else [Path(settings.MODELS_DIR)]
    outcomes = [_register_file(path) for d in dirs for path in weights_files(d)]
    seen = {o.weights.pk for o in outcomes if o.weights is not None}
    for weights in ModelWeights.objects.exclude(pk__in=seen).filter(available=True):
        if not Path(weights.path).is_file():
            ModelWeights.objects.filter(pk=weights.pk).update(available=False)
            outcomes.append(ScanOutcome(Path(weights.path), "missing", "file is gone", weights))
    return outcomes


def _register_file(path: Path) -> ScanOutcome:
    try:
        info = inspect_weights(path)
    except EngineError as exc:
        return ScanOutcome(path, "unrecognised", str(exc))
    except Exception as exc:  # spandrel raises many kinds of errors for files it cannot read
        return ScanOutcome(path, "unrecognised", f"{type(exc).__name__}: {exc}")
    with transaction.atomic():
        existing = ModelWeights.objects.select_for_update().filter(sha256=info.sha256).first()
        if existing is not None:
            moved = existing.path != str(path) or not existing.available
            if moved:
                ModelWeights.objects.filter(pk=existing.pk).update(path=str(path), available=True)
                existing.refresh_from_db()
            return ScanOutcome(path, "moved" if moved else "known", existing.name, existing)
        weights = ModelWeights.objects.create(
            name=_free_name(path.stem, info.sha256),
            sha256=info.sha256,
            architecture=info.architecture,
            purpose=info.purpose,
            scale=info.scale,
            license=info.license,
            path=str(path),
            size=info.size_bytes,
            details={
                "input_channels": info.input_channels,
                "output_channels": info.output_channels,
                "tags": list(info.tags),
                "supports_half": info.supports_half,
                "tiling": info.tiling,
                "has_fidelity": info.has_fidelity,
                "spandrel_purpose": info.spandrel_purpose,
            },
        )
    return ScanOutcome(
        path, "registered", f"{info.architecture} {info.purpose} x{info.scale}", weights
    )


def _free_name(stem: str, sha256: str) -> str:
    if not ModelWeights.objects.filter(name=stem).exists():
        return stem
    return f"{stem}-{sha256[:8]}"


def model_usability(weights: ModelWeights) -> str | None:
    """None when the model may be used here, else the reason it may not."""
    if not weights.available or not Path(weights.path).is_file():
        return f"the weights file of model {weights.name!r} is missing ({weights.path})"
    if (
        weights.license == ModelWeights.License.NON_COMMERCIAL
        and not settings.ARCHIVE_ALLOW_NONCOMMERCIAL_MODELS
    ):
        return (
            f"model {weights.name!r} ({weights.architecture}) has a non-commercial license and "
            "ARCHIVE_ALLOW_NONCOMMERCIAL_MODELS is off"
        )
    return None


def model_resolve(value: object, *, purpose: str) -> ModelWeights:
    """A registered model by name or id, usable here and fit for ``purpose``."""
    weights = None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        weights = ModelWeights.objects.filter(pk=int(value)).first()
    if weights is None and isinstance(value, str):
        weights = ModelWeights.objects.filter(name=value).first()
    if weights is None:
        raise ModelNotUsable(f"no registered model named or numbered {value!r}")
    if weights.purpose != purpose:
        raise ModelNotUsable(
            f"model {weights.name!r} is a {weights.purpose} model ({weights.architecture}); "
            f"this operation needs a {purpose} model"
        )
    reason = model_usability(weights)
    if reason:
        raise ModelNotUsable(reason)
    return weights


def model_ref(weights: ModelWeights) -> ModelRef:
    return ModelRef(
        name=weights.name,
        path=Path(weights.path),
        sha256=weights.sha256,
        architecture=weights.architecture,
        purpose=weights.purpose,
        scale=weights.scale,
    )


def mtcnn_dir() -> Path | None:
    for candidate in settings.MTCNN_DIRS:
        if all((Path(candidate) / name).is_file() for name in MTCNN_FILES):
            return Path(candidate)
    return None


def engine_env() -> EngineEnv:
    """What the engine may use here: usable registered models and the face detector."""
    usable = [w for w in ModelWeights.objects.all() if model_usability(w) is None]
    return EngineEnv(models=[model_ref(w) for w in usable], mtcnn_dir=mtcnn_dir())
