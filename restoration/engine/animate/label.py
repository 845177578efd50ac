"""The burnt-in label: a line of text on a dark band along the bottom of every frame.

The caller passes the text in the interface language. Chinese, Japanese and Korean text needs a
CJK font: Noto Sans CJK is looked for first (Debian's fonts-noto-cjk), then fontconfig is asked
for a font covering the text's script, then DejaVu Sans; the font used is recorded, and when no
installed font covers every character of the text the record says which characters fell back
(they would show as boxes), so a missing font is never silent.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CJK_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
LATIN_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
)
BAND_OPACITY = 0.6


def _needs_cjk(text: str) -> bool:
    return any(
        0x2E80 <= ord(ch) <= 0x9FFF or 0xAC00 <= ord(ch) <= 0xD7AF or 0xF900 <= ord(ch) <= 0xFAFF
        for ch in text
    )


@cache
def _fc_match(pattern: str) -> str | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        found = subprocess.run(
            [exe, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found if found and Path(found).is_file() else None


def find_font(text: str) -> str | None:
    """Path of a font for `text`, or None (PIL's built-in bitmap font is then used)."""
    if _needs_cjk(text):
        for path in CJK_CANDIDATES:
            if Path(path).is_file():
                return path
        found = _fc_match(":lang=zh")
        if found:
            return found
    for path in LATIN_CANDIDATES:
        if Path(path).is_file():
            return path
    return _fc_match("sans")


@dataclass(frozen=True)
class Label:
    """A rendered band, composited onto each frame at the same place."""

    text: str
    font: str | None
    top: int  # first row of the band
    rgba: np.ndarray  # (band height, width, 4) uint8
    missing: str  # characters the font lacks

    def apply(self, frame: np.ndarray) -> np.ndarray:
        out = frame.copy()
        band = out[self.top : self.top + self.rgba.shape[0]]
        alpha = self.rgba[:, :, 3:4].astype(np.float32) / 255.0
        colour = self.rgba[:, :, :3].astype(np.float32)
        if band.ndim == 2:
            colour = colour.mean(axis=2)
            alpha = alpha[:, :, 0]
        mixed = band.astype(np.float32) * (1.0 - alpha) + colour * alpha
        out[self.top : self.top + self.rgba.shape[0]] = np.clip(np.rint(mixed), 0, 255).astype(
            np.uint8
        )
        return out

    def as_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "font": Path(self.font).name if self.font else "PIL default bitmap font",
            "band_rows": [self.top, self.top + int(self.rgba.shape[0])],
            "missing_glyphs": self.missing,
        }


def _missing_glyphs(font: Any, text: str) -> str:
    """Characters the font has no glyph for: their mask is the font's .notdef box."""

    def mask_of(ch: str) -> tuple[tuple[int, int], bytes]:
        mask = font.getmask(ch)
        return mask.size, bytes(mask)

    try:
        notdef = mask_of("\U0010fffd")  # a private-use code point no font draws
    except Exception:  # noqa: BLE001 - nothing to compare against
        return ""
    missing = []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        try:
            if mask_of(ch) == notdef:
                missing.append(ch)
        except Exception:  # noqa: BLE001
            missing.append(ch)
    return "".join(missing)


def make_label(text: str, width: int, height: int) -> Label:
    """A band sized to the frame: text height ~3.5 % of the shorter side (at least 12 px, so
    that CJK characters stay legible), shrunk until the text fits the width."""
    path = find_font(text)
    size = max(12, round(min(width, height) * 0.035))
    while True:
        font = ImageFont.truetype(path, size) if path else ImageFont.load_default()
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        x0, y0, x1, y1 = probe.textbbox((0, 0), text, font=font)
        if x1 - x0 <= width * 0.94 or size <= 7 or not path:
            break
        size -= 1
    pad = max(2, size // 3)
    band_h = int(min(height, (y1 - y0) + 2 * pad))
    band = Image.new("RGBA", (width, band_h), (0, 0, 0, round(255 * BAND_OPACITY)))
    draw = ImageDraw.Draw(band)
    draw.text(((width - (x1 - x0)) // 2 - x0, pad - y0), text, font=font, fill=(255, 255, 255, 255))
    return Label(
        text=text,
        font=path,
        top=height - band_h,
        rgba=np.asarray(band),
        missing=_missing_glyphs(font, text) if path else "",
    )
