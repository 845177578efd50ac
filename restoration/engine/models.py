"""Loading weights with spandrel: architecture detection, purpose/licence facts, a per-process cache."""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .files import file_sha256
from .types import EngineError, ModelRef, UnavailableError

FACE_ARCHS = frozenset({"GFPGAN", "CodeFormer", "RestoreFormer", "GPEN"})
COLORIZE_ARCHS = frozenset({"DDColor"})
# Architectures whose published weights/code are under non-commercial terms. Everything from
# spandrel_extra_arches is treated the same way (that package exists to hold restrictive
# licences); an installation can refuse them by policy. Conservative on purpose: a wrong
# "permissive" is worse than a wrong "non-commercial".
NON_COMMERCIAL_ARCHS = frozenset(
    {
        "CodeFormer",
        "MAT",
        "Restormer",
        "MPRNet",
        "MIRNet2",
        "FeMaSR",
        "AdaCode",
        "M3SNet",
        "SRFormer",
        "DDColor",
        "GPEN",  # issue 12: GPEN's code and weights are for research / non-commercial use
    }
)
WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
MAX_CACHED_MODELS = 4

_spandrel_lock = threading.Lock()
_spandrel: ModuleType | None = None


def spandrel_module() -> ModuleType:
    """Import spandrel once, with our torchvision shim and the extra architectures if present."""
    global _spandrel
    with _spandrel_lock:
        if _spandrel is None:
            from .tvshim import install_if_missing

            install_if_missing()
            import spandrel

            try:
                import spandrel_extra_arches

                spandrel_extra_arches.install(ignore_duplicates=True)
            except ImportError:  # optional: CodeFormer, DDColor, ... are then undetectable
                pass
            _spandrel = spandrel
        return _spandrel


@dataclass(frozen=True)
class WeightsInfo:
    """What `models scan` stores about a weights file."""

    architecture: str
    purpose: str
    scale: int
    license: str
    input_channels: int
    output_channels: int
    sha256: str
    size_bytes: int
    tags: tuple[str, ...] = ()
    supports_half: bool = False
    tiling: str = "supported"
    has_fidelity: bool = False
    spandrel_purpose: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def purpose_of(arch_id: str, spandrel_purpose: str, scale: int) -> str:
    if arch_id in FACE_ARCHS or spandrel_purpose == "FaceSR":
        return "face_restore"
    if arch_id in COLORIZE_ARCHS:
        return "colorize"
    if spandrel_purpose == "SR" or scale > 1:
        return "sr"
    if spandrel_purpose == "Restoration":
        return "restoration"
    return "other"


def license_of(arch_id: str) -> str:
    return "non-commercial" if arch_id in NON_COMMERCIAL_ARCHS else "permissive"


def _load_descriptor(path: Path) -> Any:
    # GPEN is not in spandrel: our own network (gpen.py) recognises its state dicts first.
    from .gpen import load_gpen

    gpen = load_gpen(path)
    if gpen is not None:
        return gpen
    spandrel = spandrel_module()
    try:
        descriptor = spandrel.ModelLoader().load_from_file(str(path))
    except spandrel.UnsupportedModelError as exc:
        raise EngineError(f"{path.name}: spandrel does not recognise this architecture") from exc
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise EngineError(f"{path.name}: cannot load weights: {exc}") from exc
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError) as exc:
        # a file that is not a state dict at all (junk, truncated, another format's bytes)
        raise EngineError(f"{path.name}: not a weights file ({type(exc).__name__}: {exc})") from exc
    return descriptor


def spandrel_weights_info(path: Path) -> WeightsInfo:
    """What spandrel detects in ``path``; EngineError when it knows no such architecture.
    ``restoration.engine.weights.inspect_weights`` asks the other recognisers first."""
    descriptor = _load_descriptor(path)
    arch_id = str(descriptor.architecture.id)
    scale = int(descriptor.scale)
    tiling = str(getattr(descriptor.tiling, "name", descriptor.tiling)).lower()
    return WeightsInfo(
        architecture=arch_id,
        purpose=purpose_of(arch_id, str(descriptor.purpose), scale),
        scale=scale,
        license=license_of(arch_id),
        input_channels=int(descriptor.input_channels),
        output_channels=int(descriptor.output_channels),
        sha256=file_sha256(path),
        size_bytes=path.stat().st_size,
        tags=tuple(str(t) for t in descriptor.tags),
        supports_half=bool(descriptor.supports_half),
        tiling=tiling,
        has_fidelity=arch_id == "CodeFormer",
        spandrel_purpose=str(descriptor.purpose),
    )


_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()


def load_model(ref: ModelRef, device: str = "cpu") -> Any:
    """The spandrel descriptor for `ref`, float32, eval mode, on `device`; loaded once per process.

    The file's sha256 is checked against the registered one on first load: a step records the
    registered hash, so running different bytes under that hash would falsify the lineage.
    """
    import torch

    key = (ref.sha256, device)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        if not ref.path.is_file():
            raise UnavailableError(f"model {ref.name!r}: weights file {ref.path} is missing")
        actual = file_sha256(ref.path)
        if actual != ref.sha256:
            raise EngineError(
                f"model {ref.name!r}: file sha256 {actual[:12]}… differs from registered {ref.sha256[:12]}…"
            )
        descriptor = _load_descriptor(ref.path)
        # fp16 weights (e.g. the Real-ESRGAN file) run in float32: CPUs have no fast fp16 and
        # float32 keeps results identical across runs.
        descriptor.to(torch.device(device)).to(torch.float32).eval()
        for p in descriptor.model.parameters():
            p.requires_grad_(False)
        _cache[key] = descriptor
        while len(_cache) > MAX_CACHED_MODELS:
            _cache.popitem(last=False)
        return descriptor


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


def cached_model_count() -> int:
    return len(_cache)
