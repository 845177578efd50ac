"""Reading, validating and describing image files (no Django; used by ingest and by jobs).

Every refusal is an ``ImageRejected`` whose message says exactly what is wrong with the file,
so that callers can answer 4xx / fail a job with the reason instead of a 500.
"""

from __future__ import annotations

import io
import re
import struct
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import exifread
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# A truncated file must fail, never decode as grey padding.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# We check the pixel count ourselves, before decoding, with our own limit and message.
Image.MAX_IMAGE_PIXELS = None

SUPPORTED_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


class ImageRejected(ValueError):
    """The file cannot be accepted; the message says why in terms a person can act on."""

    def __init__(self, message: str, code: str = "invalid_image") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ImageFacts:
    format: str
    media_type: str
    width: int
    height: int
    mode: str
    bit_depth: int
    has_icc_profile: bool
    pages: int = 1
    notes: list[str] = field(default_factory=list)
    exif: dict[str, Any] = field(default_factory=dict)
    preview: bytes | None = None


class DecodeBudget:
    """Bytes that decodes in this process may hold at once (``ARCHIVE_DECODE_MEMORY_MB``).

    A decode reserves its predicted peak (``decode_cost``) before any pixel is decoded: one that
    could never fit is refused at once (413), others wait their turn, so two decompression
    bombs arriving together queue instead of adding up."""

    def __init__(self, limit_bytes: int = 3072 * 2**20, wait_s: float = 120.0) -> None:
        self.limit_bytes = limit_bytes
        self.wait_s = wait_s
        self._used = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, cost: int, what: str) -> Iterator[None]:
        if cost > self.limit_bytes:
            raise ImageRejected(
                f"{what} would need about {cost / 2**20:,.0f} MiB to decode, over this "
                f"server's decode budget of {self.limit_bytes / 2**20:,.0f} MiB "
                "(ARCHIVE_DECODE_MEMORY_MB); not decoded",
                code="too_large",
            )
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while self._used + cost > self.limit_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ImageRejected(
                        "the server is busy decoding other large images; try again shortly",
                        code="busy",
                    )
                self._cond.wait(left)
            self._used += cost
        try:
            yield
        finally:
            with self._cond:
                self._used -= cost
                self._cond.notify_all()


DECODES = DecodeBudget()

# Bytes per pixel of the decoded image by Pillow mode (what Pillow itself holds).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2}


# Pillow's WebP decoder goes through libwebp's animation decoder, which holds several RGBA
# canvases: a 16383x16383 lossless WebP measured 6.0 GiB to load and 7.0 GiB to decode to an
# array (26.8 B/px), against 5 B/px for a PNG of the same size.
_FORMAT_HELD_BYTES = {"WEBP": 24}


def decode_cost(width: int, height: int, mode: str, fmt: str = "") -> int:
    """Predicted peak bytes of decoding an image to an engine array (``decode_rgb_or_grey``) or
    validating it (``inspect_image``): what Pillow holds while decoding, one converted copy,
    the array (alpha is flattened in strips, see ``_flatten_alpha``), plus a margin."""
    pixels = width * height
    held = _FORMAT_HELD_BYTES.get(fmt, _MODE_BYTES.get(mode, 4))
    return pixels * (held + 4 + 3) + 16 * 2**20


def check_filename(name: str) -> str:
    """Refuse names that try to escape a directory or carry control characters."""
    if not name or not name.strip():
        raise ImageRejected("the file has no name", code="bad_filename")
    if _UNSAFE_NAME.search(name):
        raise ImageRejected(f"file name {name!r} contains control characters", code="bad_filename")
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith(".."):
        raise ImageRejected(
            f"file name {name!r} contains a path; send the bare file name (no '/', '\\' or '..')",
            code="bad_filename",
        )
    if len(name) > 255:
        raise ImageRejected("file name is longer than 255 characters", code="bad_filename")
    return name


_BITS = {
    "1": 1,
    "L": 8,
    "P": 8,
    "RGB": 8,
    "RGBA": 8,
    "CMYK": 8,
    "LA": 8,
    "YCbCr": 8,
    "LAB": 8,
    "I;16": 16,
    "I;16B": 16,
    "I;16L": 16,
    "I;16N": 16,
    "I": 32,
    "F": 32,
    "HSV": 8,
    "PA": 8,
}


def inspect_image(
    stream: IO[bytes], *, size: int, max_pixels: int, preview_side: int | None = None
) -> ImageFacts:
    """Validate a whole image file (header, pixel budget, full decode, EXIF) and describe it.

    With ``preview_side``, also make the display preview from the decode already done (a
    scan is decoded once at ingest, not twice)."""
    if size == 0:
        raise ImageRejected("the file is empty (0 bytes)", code="empty_file")
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            "not an image Pillow can identify (is it really a JPEG, PNG, TIFF or WebP?)",
            code="not_an_image",
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(
            f"the image header is truncated or corrupt ({exc}); the file was not stored",
            code="corrupt_image",
        ) from exc
    with img:
        fmt = img.format or "unknown"
        if fmt not in SUPPORTED_FORMATS:
            raise ImageRejected(
                f"unsupported image format {fmt}; accepted: JPEG, PNG, TIFF, WebP",
                code="unsupported_format",
            )
        width, height = img.size
        _check_pixel_budget(width, height, max_pixels)
        pages = int(getattr(img, "n_frames", 1) or 1)
        notes = []
        if pages > 1:
            notes.append(
                f"multi-page {fmt}: {pages} pages; the first page is the image, all pages are kept "
                "in the master file"
            )
        try:
            img.seek(0)
            with DECODES.reserve(decode_cost(width, height, img.mode, fmt), "the image"):
                img.load()
                _check_exif_structure(img)
                facts = _facts(img, fmt, pages, notes)
                if preview_side:
                    facts.preview = _preview_of_loaded(img, preview_side)
        except ImageRejected:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageRejected(str(exc), code="decompression_bomb") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejected(
                f"the image data is truncated or corrupt ({exc}); the file was not stored",
                code="corrupt_image",
            ) from exc
    stream.seek(0)
    facts.exif = read_exif(stream)
    stream.seek(0)
    return facts


def _facts(img: Image.Image, fmt: str, pages: int, notes: list[str]) -> ImageFacts:
    return ImageFacts(
        format=fmt,
        media_type=SUPPORTED_FORMATS[fmt],
        width=img.width,
        height=img.height,
        mode=img.mode,
        bit_depth=_bit_depth(img),
        has_icc_profile=bool(img.info.get("icc_profile")),
        pages=pages,
        notes=notes,
    )


def _check_pixel_budget(width: int, height: int, max_pixels: int) -> None:
    pixels = width * height
    if width <= 0 or height <= 0:
        raise ImageRejected(
            f"the image claims impossible dimensions {width}x{height}", code="corrupt_image"
        )
    if pixels > max_pixels:
        raise ImageRejected(
            f"the image claims {width}x{height} = {pixels / 1e6:,.0f} megapixels, over the limit "
            f"of {max_pixels / 1e6:,.0f} megapixels (possible decompression bomb); not decoded",
            code="decompression_bomb",
        )


def _check_exif_structure(img: Image.Image) -> None:
    """Refuse an EXIF block whose TIFF structure is broken.

    Readers skip a broken block silently, which would lose the scan's facts without a word;
    an archivist should hear about it (and can strip the block and ingest again)."""
    raw = img.info.get("exif")
    if not raw:
        return
    body = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    if len(body) < 8 or body[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ImageRejected(
            "the EXIF block is broken: it does not start with a TIFF header (II*/MM*)",
            code="broken_exif",
        )
    order = "<" if body[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(order + "I", body[4:8])
    if ifd0 < 8 or ifd0 + 2 > len(body):
        raise ImageRejected(
            f"the EXIF block is broken: its first directory offset {ifd0} lies outside the "
            f"{len(body)}-byte block",
            code="broken_exif",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            img.getexif().get_ifd(0x8769)
        except Exception as exc:  # Pillow raises assorted errors on malformed directories
            raise ImageRejected(f"the EXIF block is broken: {exc}", code="broken_exif") from exc
    corrupt = [str(w.message) for w in caught if "Corrupt EXIF" in str(w.message)]
    if corrupt:
        raise ImageRejected(f"the EXIF block is broken: {corrupt[0].strip()}", code="broken_exif")


def _bit_depth(img: Image.Image) -> int:
    bits = _BITS.get(img.mode, 8)
    # PNG 16-bit RGB(A) opens as RGB/RGBA 8-bit in older Pillow; trust the encoder's info.
    if img.format == "PNG" and img.info.get("bit_depth"):
        return int(img.info["bit_depth"])
    tiff_bits = getattr(img, "tag_v2", {}).get(258) if img.format == "TIFF" else None
    if tiff_bits:
        values = tiff_bits if isinstance(tiff_bits, tuple) else (tiff_bits,)
        return int(max(values))
    return bits


# EXIF tags worth keeping, by exifread name; the rest of the file's EXIF is not copied into
# the catalogue (maker notes and thumbnails are large and not research data).
_EXIF_KEEP = {
    "Image Orientation": "orientation",
    "EXIF DateTimeOriginal": "date_time_original",
    "EXIF DateTimeDigitized": "date_time_digitized",
    "Image DateTime": "date_time",
    "Image Make": "make",
    "Image Model": "model",
    "Image Software": "software",
    "Image Artist": "artist",
    "Image Copyright": "copyright",
    "Image ImageDescription": "description",
    "Image XResolution": "x_resolution",
    "Image YResolution": "y_resolution",
    "Image ResolutionUnit": "resolution_unit",
    "EXIF ColorSpace": "color_space",
    "EXIF LensModel": "lens_model",
}


class _ExifLogTrap:
    """exifread reports many structural problems only through its logger; collect them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __enter__(self) -> _ExifLogTrap:
        import logging

        self._logger = logging.getLogger("exifread")
        self._handler = logging.Handler(level=logging.WARNING)
        self._handler.emit = lambda record: self.messages.append(record.getMessage())  # type: ignore[method-assign]
        self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self._handler)


def read_exif(stream: IO[bytes]) -> dict[str, Any]:
    """EXIF as JSON-safe data. Structurally broken EXIF raises ``ImageRejected``."""
    stream.seek(0)
    try:
        with _ExifLogTrap() as trap:
            # exifread annotates BinaryIO; it only reads and seeks, as any IO[bytes] can.
            tags = exifread.process_file(
                stream,  # type: ignore[arg-type]
                details=False,
                strict=True,
            )
    except Exception as exc:  # exifread raises bare Exceptions of many kinds on bad data
        raise ImageRejected(f"the EXIF block is broken: {exc}", code="broken_exif") from exc
    broken = [m for m in trap.messages if "corrupt" in m.lower() or "possibly" in m.lower()]
    if broken and not tags:
        raise ImageRejected(f"the EXIF block is broken: {broken[0]}", code="broken_exif")
    result: dict[str, Any] = {}
    for tag, key in _EXIF_KEEP.items():
        if tag in tags:
            result[key] = _exif_value(tags[tag])
    return result


def _exif_value(tag: Any) -> Any:
    printable = str(tag.printable).strip()
    values = getattr(tag, "values", None)
    if isinstance(values, list) and len(values) == 1:
        value = values[0]
        if isinstance(value, int):
            return {"value": value, "text": printable} if printable != str(value) else value
        if hasattr(value, "num") and hasattr(value, "den"):
            return float(value.num) / float(value.den) if value.den else None
    return printable.replace("\x00", "")


def decode_rgb_or_grey(data: bytes | IO[bytes], *, max_pixels: int) -> np.ndarray:
    """Decode the first page as an engine input: HxW grey or HxWx3 RGB, uint8 or uint16.

    Orientation from EXIF is applied (the master bytes stay untouched). Alpha is composited
    on white, CMYK and palette images go to RGB, 16-bit grey stays 16-bit.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    with Image.open(stream) as img:
        _check_pixel_budget(img.width, img.height, max_pixels)
        img.seek(0)
        cost = decode_cost(img.width, img.height, img.mode, img.format or "")
        with DECODES.reserve(cost, "the image"):
            # Only when the orientation asks for it: exif_transpose copies the whole image
            # even for orientation 1 (29 ms of a 37 ms decode at 1 MP, issue 16).
            if img.getexif().get(0x0112, 1) in _ORIENTATION_TRANSPOSE:
                img = ImageOps.exif_transpose(img) or img
            return _to_array(img)


def _to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        arr = np.asarray(img, dtype=np.int64)
        return np.clip(arr, 0, 65535).astype(np.uint16)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return np.clip(arr, 0, 255).astype(np.uint8)
    if mode in {"1", "L"}:
        return np.asarray(img.convert("L"))
    if mode in {"LA", "PA"} or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return _flatten_alpha(rgba, grey=mode == "LA")
    if mode == "RGBA":
        return _flatten_alpha(img, grey=False)
    return np.asarray(img.convert("RGB"))


def _flatten_alpha(img: Image.Image, *, grey: bool) -> np.ndarray:
    """Composite on white in strips of rows: float32 RGBA of a whole 16383x16383 WebP would be
    4 GiB, a strip is a few MiB, and the result is the same."""
    rgba = np.asarray(img.convert("RGBA"))
    out = np.empty(rgba.shape[:2] + (3,), dtype=np.uint8)
    strip = max(1, (4 * 2**20) // max(1, rgba.shape[1] * 4))
    for top in range(0, rgba.shape[0], strip):
        part = rgba[top : top + strip].astype(np.float32) / 255.0
        alpha = part[..., 3:4]
        rgb = part[..., :3] * alpha + (1.0 - alpha)
        out[top : top + strip] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return out[..., 0] if grey else out


def encode_png(array: np.ndarray) -> bytes:
    """Deterministic PNG bytes for an engine output (no timestamps, fixed compression)."""
    if array.dtype == np.uint16:
        img = Image.fromarray(np.ascontiguousarray(array if array.ndim == 2 else array[..., 0]))
    else:
        img = Image.fromarray(np.ascontiguousarray(array.astype(np.uint8)))
    buf = io.BytesIO()
    # Level 1: about 2.3x faster than 6 for ~7% larger files; outputs are re-encoded per step,
    # so encode time is job overhead. Fixed settings keep the bytes reproducible.
    img.save(buf, format="PNG", compress_level=1, optimize=False)
    return buf.getvalue()


def make_preview(data: IO[bytes], *, max_side: int) -> bytes:
    """A display JPEG of a stored file (not part of the lineage). JPEGs are decoded at a
    reduced DCT scale (``draft``): a preview needs no full decode."""
    with Image.open(data) as img:
        img.seek(0)
        if img.format == "JPEG":
            scale = max_side / max(img.size)
            img.draft(img.mode, (round(img.width * scale), round(img.height * scale)))
        img.load()
        return _preview_of_loaded(img, max_side)


def _preview_of_loaded(img: Image.Image, max_side: int) -> bytes:
    orientation = img.getexif().get(0x0112, 1)
    if img.mode in {"RGB", "L"}:
        small = img
    else:
        arr = _to_array(img)
        if arr.dtype == np.uint16:
            arr = (arr >> 8).astype(np.uint8)
        small = Image.fromarray(arr)
    # An area average by the smallest integer factor that fits (a box reduce): alias-free and
    # far cheaper than a resampling filter, so a preview costs a fraction of the decode.
    factor = -(-max(small.size) // max_side)
    small = small.reduce(factor) if factor > 1 else small.copy()
    transpose = _ORIENTATION_TRANSPOSE.get(orientation)
    if transpose is not None:
        small = small.transpose(transpose)
    buf = io.BytesIO()
    small.convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
