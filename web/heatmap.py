"""Difference heat maps: where a step changed the image, and how much.

A heat map is a display aid, not lineage: it is rendered once from the two stored files and
cached under ``previews/`` (never ``objects/``), keyed by both sha256s.
"""

from __future__ import annotations

import io

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from restoration import imagefile
from restoration.models import Artifact

# Differences below this many grey levels are treated as encoder noise, at or above SATURATE
# they are shown at full heat. A square root spreads the small differences (denoise,
# sharpen) over the scale without losing the big ones (repainted faces).
NOISE_FLOOR = 2.0
SATURATE = 96.0

# A perceptually ordered map (black, purple, red, orange, yellow), like "inferno".
_STOPS = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)


def heatmap_key(before: Artifact, after: Artifact) -> str:
    return f"previews/diff/{after.sha256[:2]}/{before.sha256}-{after.sha256}.png"


def _display_rgb(artifact: Artifact, size: tuple[int, int] | None, max_side: int) -> np.ndarray:
    """The artifact as float RGB in 0..255, at ``size`` or shrunk to ``max_side``."""
    with default_storage.open(artifact.storage_key, "rb") as fh:
        arr = imagefile.decode_rgb_or_grey(fh, max_pixels=settings.ARCHIVE_MAX_PIXELS)
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    img = Image.fromarray(arr).convert("RGB")
    if size is None:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    elif img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32)


def colorize(heat: np.ndarray) -> np.ndarray:
    """Map 0..1 to RGB uint8 along ``_STOPS``."""
    pos = np.clip(heat, 0.0, 1.0) * (len(_STOPS) - 1)
    low = np.floor(pos).astype(np.int64).clip(0, len(_STOPS) - 2)
    frac = (pos - low)[..., None]
    rgb = _STOPS[low] * (1.0 - frac) + _STOPS[low + 1] * frac
    return np.rint(rgb).astype(np.uint8)


def render_heatmap(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Heat of |after - before| laid over a faint grey copy of ``after`` (for orientation)."""
    diff = np.abs(after - before).max(axis=2)
    heat = np.sqrt(np.clip((diff - NOISE_FLOOR) / (SATURATE - NOISE_FLOOR), 0.0, 1.0))
    grey = after.mean(axis=2, keepdims=True) * 0.5
    alpha = (0.3 + 0.7 * heat)[..., None]
    out = grey * (1.0 - alpha) + colorize(heat).astype(np.float32) * alpha
    return np.rint(out).clip(0, 255).astype(np.uint8)


def ensure_heatmap(before: Artifact, after: Artifact) -> str:
    """Render (once) the heat map of ``before`` -> ``after``; returns its storage key."""
    key = heatmap_key(before, after)
    if default_storage.exists(key):
        return key
    after_rgb = _display_rgb(after, None, settings.ARCHIVE_PREVIEW_SIZE)
    height, width = after_rgb.shape[:2]
    before_rgb = _display_rgb(before, (width, height), settings.ARCHIVE_PREVIEW_SIZE)
    buf = io.BytesIO()
    Image.fromarray(render_heatmap(before_rgb, after_rgb)).save(buf, format="PNG")
    default_storage.save(key, ContentFile(buf.getvalue()))
    return key
