"""Moving images: probe, validate, stream frames, write archival and access copies (no Django).

Everything goes through PyAV (FFmpeg). Frames are RGB ``uint8`` arrays, HxWx3, one at a time:
nothing here holds more than a frame or two, whatever the film's length.

- ``probe(path)`` validates a file by decoding every frame under limits (``VideoLimits``) and
  describes it (``VideoFacts``): container, codec, frame rate as a rational, frame count,
  duration, variable frame rate, audio streams, timecode, and the per-frame hash manifest (the
  MD5 of each decoded frame as RGB24, like ``ffmpeg -f framemd5 -pix_fmt rgb24``). It can make
  a poster frame (JPEG) and a small H.264 proxy in the same pass. Every refusal is a
  ``VideoRejected`` whose message says what is wrong.
- ``read_frames(path, start, stop)`` streams frames on the constant-rate grid of the film (a
  variable-rate file is resampled to its average rate, the frame shown at each grid time, so
  audio stays in sync); it seeks to the nearest keyframe before ``start``.
- ``VideoWriter`` writes FFV1 in Matroska (lossless: the archival master and intermediates) or
  H.264 in MP4 (the access copy), optionally carrying the audio of a source file along, in sync.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

# FFmpeg logs through Python's logging when enabled; errors still raise.
try:  # pragma: no cover - av is a hard dependency, but keep the engine importable without it
    import av
    import av.logging

    av.logging.set_level(av.logging.PANIC)
except ImportError:  # pragma: no cover
    av = None  # type: ignore[assignment]

VIDEO_EXTENSIONS = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
}
MANIFEST_ALGORITHM = "md5 of each decoded frame as rgb24 (ffmpeg -f framemd5 -pix_fmt rgb24)"


class VideoRejected(ValueError):
    """The file cannot be accepted; the message says why in terms a person can act on."""

    def __init__(self, message: str, code: str = "invalid_video") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VideoLimits:
    """What a video may be. A declared value over a limit is refused before any decoding; a
    decoded value over it stops the decode at once (a container bomb never finishes)."""

    max_width: int = 8192
    max_height: int = 8192
    max_frame_pixels: int = 40_000_000
    max_frames: int = 1_000_000
    max_duration_s: float = 6 * 3600.0
    max_streams: int = 32
    min_fps: Fraction = Fraction(1, 10)
    max_fps: Fraction = Fraction(1000)
    max_decode_s: float = 3600.0


@dataclass
class AudioFacts:
    index: int
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None
    language: str = ""


@dataclass
class VideoFacts:
    container: str
    media_type: str
    codec: str
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float
    vfr: bool
    pix_fmt: str
    bit_depth: int
    audio: list[AudioFacts] = field(default_factory=list)
    timecode: str = ""
    notes: list[str] = field(default_factory=list)
    frame_md5: list[str] = field(default_factory=list)
    poster: bytes | None = None
    poster_index: int = 0

    @property
    def fps_text(self) -> str:
        return fraction_text(self.fps)

    def info(self) -> dict[str, Any]:
        """JSON-able facts for ``Artifact.info`` (without the manifest and poster bytes)."""
        return {
            "kind": "video",
            "container": self.container,
            "codec": self.codec,
            "fps": self.fps_text,
            "frame_count": self.frame_count,
            "duration": round(self.duration, 6),
            "vfr": self.vfr,
            "pix_fmt": self.pix_fmt,
            "bit_depth": self.bit_depth,
            "audio": [asdict(a) for a in self.audio],
            "timecode": self.timecode,
            "notes": list(self.notes),
            "poster_index": self.poster_index,
        }

    def manifest_text(self) -> str:
        return manifest_text(self.frame_md5, fps=self.fps, width=self.width, height=self.height)


def fraction_text(value: Fraction) -> str:
    value = Fraction(value)
    return f"{value.numerator}/{value.denominator}"


def parse_fps(value: Any) -> Fraction:
    """A frame rate from ``24``, ``23.976``, ``"24000/1001"`` or a Fraction; ValueError if bad.

    A decimal like 29.97 or 23.976 is read as the NTSC rate it stands for (30000/1001)."""
    if isinstance(value, bool):
        raise ValueError(f"not a frame rate: {value!r}")
    if isinstance(value, Fraction):
        rate = value
    elif isinstance(value, int):
        rate = Fraction(value)
    elif isinstance(value, float | str):
        text = str(value).strip()
        try:
            if "/" in text:
                num, den = text.split("/", 1)
                rate = Fraction(int(num), int(den))
            else:
                rate = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not a frame rate: {value!r}") from None
        ntsc = Fraction(round(rate * 1001 / 1000) * 1000, 1001)
        if "/" not in text and rate.denominator != 1 and abs(ntsc - rate) < Fraction(1, 200):
            rate = ntsc
    else:
        raise ValueError(f"not a frame rate: {value!r}")
    if rate <= 0 or rate > 1000:
        raise ValueError(f"frame rate must be in (0, 1000], got {value!r}")
    return rate


def manifest_text(md5s: Sequence[str], *, fps: Fraction, width: int, height: int) -> str:
    """The per-frame hash manifest, in the shape of ffmpeg's framemd5 output."""
    lines = [
        "#format: frame checksums",
        "#version: 2",
        "#hash: MD5",
        f"#algorithm: {MANIFEST_ALGORITHM}",
        f"#tb 0: {fps.denominator}/{fps.numerator}",
        "#media_type 0: video",
        "#codec_id 0: rawvideo",
        f"#dimensions 0: {width}x{height}",
        f"#frames: {len(md5s)}",
        "#stream#, dts, pts, duration, size, hash",
    ]
    size = width * height * 3
    lines += [f"0, {i}, {i}, 1, {size}, {h}" for i, h in enumerate(md5s)]
    return "\n".join(lines) + "\n"


def parse_manifest(text: str) -> list[str]:
    """The frame hashes of a manifest written by ``manifest_text``."""
    return [
        line.rsplit(",", 1)[1].strip()
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


def frame_md5(frame: np.ndarray) -> str:
    return hashlib.md5(np.ascontiguousarray(frame).tobytes(), usedforsecurity=False).hexdigest()


# --- probe -------------------------------------------------------------------------------------


def _require_av() -> None:
    if av is None:  # pragma: no cover
        raise VideoRejected("video support (PyAV) is not installed here", code="unavailable")


def _open(path: str | os.PathLike[str]) -> Any:
    _require_av()
    try:
        return av.open(str(path), mode="r", metadata_errors="replace")
    except av.error.InvalidDataError:
        raise VideoRejected(
            "the file is not a video this archive can read (no known container: MP4, MOV, "
            "MKV, AVI...)",
            code="not_video",
        ) from None
    except av.error.FFmpegError as exc:
        raise VideoRejected(f"the video cannot be opened: {_ffmpeg_text(exc)}") from None


def _ffmpeg_text(exc: Exception) -> str:
    text = str(exc)
    return text.split(";")[0][:300]


def _media_type(container_name: str, path: str) -> str:
    ext = Path(path).suffix.lower()
    names = set(container_name.split(","))
    if "matroska" in names or "webm" in names:
        return "video/webm" if ext == ".webm" else "video/x-matroska"
    if "mov" in names or "mp4" in names:
        return "video/quicktime" if ext == ".mov" else "video/mp4"
    if "avi" in names:
        return "video/x-msvideo"
    return VIDEO_EXTENSIONS.get(ext, "video/octet-stream")


def _stream_rate(stream: Any) -> Fraction | None:
    for attr in ("average_rate", "guessed_rate", "base_rate"):
        rate = getattr(stream, attr, None)
        if rate:
            frac = Fraction(rate)
            if frac > 0:
                return frac.limit_denominator(1001)
    return None


def _bit_depth(pix_fmt: str) -> int:
    for depth in (16, 14, 12, 10, 9):
        if f"{depth}le" in pix_fmt or f"{depth}be" in pix_fmt:
            return depth
    return 8


def probe(
    path: str | os.PathLike[str],
    *,
    limits: VideoLimits | None = None,
    poster_side: int | None = None,
    proxy_path: str | os.PathLike[str] | None = None,
    proxy_height: int = 240,
    hashes: bool = True,
) -> VideoFacts:
    """Validate ``path`` by decoding every frame and describe it (see the module docstring).

    ``poster_side``: also keep a JPEG of a frame about a tenth of the way in, at most that many
    pixels on its longer side. ``proxy_path``: also write a small H.264 MP4 there (for pages).
    Raises ``VideoRejected``: not a container, no video stream, zero frames, a size, rate,
    frame count or duration over ``limits``, frames changing size, truncated, undecodable."""
    limits = limits or VideoLimits()
    path = str(path)
    started = time.monotonic()
    container = _open(path)
    try:
        return _probe_open(
            container,
            path,
            limits=limits,
            started=started,
            poster_side=poster_side,
            proxy_path=proxy_path,
            proxy_height=proxy_height,
            hashes=hashes,
        )
    finally:
        container.close()


def _probe_open(
    container: Any,
    path: str,
    *,
    limits: VideoLimits,
    started: float,
    poster_side: int | None,
    proxy_path: str | os.PathLike[str] | None,
    proxy_height: int,
    hashes: bool,
) -> VideoFacts:
    fmt = str(container.format.name)
    if fmt.endswith("_pipe") or fmt in {"image2", "gif", "apng", "webp_pipe"}:
        raise VideoRejected(
            f"the file is a still image ({fmt.removesuffix('_pipe')}), not a video; "
            "ingest it as a photo",
            code="not_video",
        )
    streams = list(container.streams)
    if len(streams) > limits.max_streams:
        raise VideoRejected(
            f"the file has {len(streams)} streams; at most {limits.max_streams} are accepted",
            code="too_large",
        )
    videos = [s for s in container.streams.video]
    if not videos:
        kinds = ", ".join(sorted({s.type for s in streams})) or "nothing"
        raise VideoRejected(f"the file has no video stream (it holds {kinds})", code="no_video")
    stream = videos[0]
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise VideoRejected("the video stream declares no frame size", code="invalid_video")
    _check_size(width, height, limits)
    rate = _stream_rate(stream)
    if rate is None:
        raise VideoRejected("the video stream declares no frame rate", code="invalid_video")
    if not limits.min_fps <= rate <= limits.max_fps:
        raise VideoRejected(
            f"the frame rate {float(rate):g} fps is outside [{float(limits.min_fps):g}, "
            f"{float(limits.max_fps):g}]",
            code="invalid_video",
        )
    declared = int(stream.frames or 0)
    if declared > limits.max_frames:
        raise VideoRejected(
            f"the video declares {declared:,} frames; at most {limits.max_frames:,} are accepted",
            code="too_large",
        )
    declared_duration = float(container.duration) / 1_000_000 if container.duration else None
    if declared_duration and declared_duration > limits.max_duration_s:
        raise VideoRejected(
            f"the video declares {declared_duration:,.0f} s; at most "
            f"{limits.max_duration_s:,.0f} s are accepted",
            code="too_large",
        )
    notes: list[str] = []
    proxy = None
    if proxy_path is not None:
        pw, ph = proxy_size(width, height, proxy_height)
        proxy = VideoWriter(
            proxy_path, width=pw, height=ph, fps=rate, codec="h264", crf=28, preset="veryfast"
        )
    poster_at = max(0, (declared or 0) // 10)
    poster: bytes | None = None
    poster_index = 0
    md5s: list[str] = []
    count = 0
    tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)
    last_pts: int | None = None
    min_delta: Fraction | None = None
    max_delta: Fraction | None = None
    first_pts: int | None = None
    last_time = Fraction(0)
    pix_fmt = str(ctx.pix_fmt or "")
    try:
        for frame in _decode_checked(container, stream):
            count += 1
            if count > limits.max_frames:
                raise VideoRejected(
                    f"the video has more than {limits.max_frames:,} frames; refused",
                    code="too_large",
                )
            if frame.width != width or frame.height != height:
                raise VideoRejected(
                    f"frame {count - 1} is {frame.width}x{frame.height}, not "
                    f"{width}x{height}: frames changing size are not accepted",
                    code="invalid_video",
                )
            if frame.pts is not None:
                if first_pts is None:
                    first_pts = frame.pts
                if last_pts is not None:
                    delta = (frame.pts - last_pts) * tb
                    min_delta = delta if min_delta is None else min(min_delta, delta)
                    max_delta = delta if max_delta is None else max(max_delta, delta)
                last_pts = frame.pts
                last_time = (frame.pts - first_pts) * tb
                if last_time > limits.max_duration_s:
                    raise VideoRejected(
                        f"the video is longer than {limits.max_duration_s:,.0f} s; refused",
                        code="too_large",
                    )
            need_rgb = (
                hashes or proxy is not None or (poster_side is not None and count - 1 == poster_at)
            )
            if need_rgb:
                rgb = frame.to_ndarray(format="rgb24")
                if hashes:
                    md5s.append(frame_md5(rgb))
                if proxy is not None:
                    small = frame.reformat(width=proxy.width, height=proxy.height, format="rgb24")
                    proxy.write(small.to_ndarray())
                if poster_side is not None and (count - 1 == poster_at or poster is None):
                    poster = jpeg(rgb, max_side=poster_side)
                    poster_index = count - 1
            if time.monotonic() - started > limits.max_decode_s:
                raise VideoRejected(
                    f"decoding took longer than {limits.max_decode_s:,.0f} s; refused",
                    code="too_large",
                )
    except BaseException:
        if proxy is not None:
            proxy.abort()
        raise
    if proxy is not None:
        proxy.close()
    if count == 0:
        raise VideoRejected("the video stream has no frames", code="no_frames")
    if declared and count < declared:
        raise VideoRejected(
            f"the video is truncated or damaged: {count:,} of the {declared:,} frames it "
            "declares could be decoded",
            code="truncated",
        )
    if declared and count > declared:
        notes.append(f"{count} frames decoded, {declared} declared")
    vfr = False
    nominal = 1 / rate
    if min_delta is not None and max_delta is not None:
        vfr = (max_delta - min_delta) > nominal / 4
    if vfr:
        duration = float(last_time + (max_delta or nominal))
        if count > 1:
            rate = Fraction(count - 1, 1) / last_time if last_time > 0 else rate
            rate = Fraction(rate).limit_denominator(1001)
        notes.append(
            f"variable frame rate (frame intervals {float(min_delta or 0) * 1000:.1f} to "
            f"{float(max_delta or 0) * 1000:.1f} ms); frames are read on a constant grid at the "
            f"average rate {float(rate):.4g} fps"
        )
    else:
        duration = float(count / rate)
    audio = [
        AudioFacts(
            index=int(s.index),
            codec=str(s.codec_context.name),
            sample_rate=int(s.codec_context.sample_rate or 0),
            channels=int(getattr(s.codec_context, "channels", 0) or 0),
            duration_s=float(s.duration * s.time_base) if s.duration and s.time_base else None,
            language=str(s.metadata.get("language", "")),
        )
        for s in container.streams.audio
    ]
    return VideoFacts(
        container=str(container.format.name),
        media_type=_media_type(str(container.format.name), path),
        codec=str(ctx.name),
        width=width,
        height=height,
        fps=rate,
        frame_count=count,
        duration=duration,
        vfr=vfr,
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(pix_fmt),
        audio=audio,
        timecode=_timecode(container, stream),
        notes=notes,
        frame_md5=md5s,
        poster=poster,
        poster_index=poster_index,
    )


def _check_size(width: int, height: int, limits: VideoLimits) -> None:
    if (
        width > limits.max_width
        or height > limits.max_height
        or width * height > limits.max_frame_pixels
    ):
        raise VideoRejected(
            f"frames of {width}x{height} are larger than this archive accepts "
            f"(at most {limits.max_width}x{limits.max_height}, "
            f"{limits.max_frame_pixels / 1e6:g} megapixels)",
            code="too_large",
        )


def _decode_checked(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames; a decoder or demuxer error is a refusal naming the frame it met."""
    count = 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                count += 1
                yield frame
    except VideoRejected:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        raise VideoRejected(
            f"the video is damaged after frame {count}: {_ffmpeg_text(exc)}", code="truncated"
        ) from None


def _timecode(container: Any, stream: Any) -> str:
    for meta in (stream.metadata, container.metadata):
        if meta.get("timecode"):
            return str(meta["timecode"])
    for other in container.streams:
        if other.metadata.get("timecode"):
            return str(other.metadata["timecode"])
    return ""


def proxy_size(width: int, height: int, max_height: int = 240) -> tuple[int, int]:
    """A small size with the same aspect, even on both sides (H.264 4:2:0 needs it)."""
    scale = min(1.0, max_height / max(1, height))
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def jpeg(rgb: np.ndarray, *, max_side: int = 512, quality: int = 85) -> bytes:
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo:
    """What ``read_frames`` needs to know, cheaply (no full decode)."""

    width: int
    height: int
    fps: Fraction
    frames_declared: int
    time_base: Fraction
    start_pts: int


def stream_info(path: str | os.PathLike[str]) -> StreamInfo:
    container = _open(path)
    try:
        if not container.streams.video:
            raise VideoRejected("the file has no video stream", code="no_video")
        s = container.streams.video[0]
        return StreamInfo(
            width=int(s.codec_context.width),
            height=int(s.codec_context.height),
            fps=_stream_rate(s) or Fraction(24),
            frames_declared=int(s.frames or 0),
            time_base=Fraction(s.time_base) if s.time_base else Fraction(1, 1000),
            start_pts=int(s.start_time or 0),
        )
    finally:
        container.close()


def read_frames(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    stop: int | None = None,
    fps: Fraction | None = None,
) -> Iterator[np.ndarray]:
    """Frames ``start`` to ``stop`` (exclusive) of the film on its constant-rate grid, as RGB
    uint8 arrays, one at a time. ``fps`` is the grid (default: the file's rate; give the
    artifact's rate for a variable-rate file). Grid slot ``k`` shows the last frame whose time
    is at or before ``k / fps`` (half a frame of tolerance), so a variable-rate file yields
    repeated frames in its gaps and drops frames that fall between slots: audio stays in sync.
    Seeks to the keyframe before ``start`` (FFV1 is all keyframes)."""
    container = _open(path)
    try:
        if not container.streams.video:
            raise VideoRejected("the file has no video stream", code="no_video")
        stream = container.streams.video[0]
        # No frame threading: closing a container while frame threads still hold frames (a
        # range read that stops early) can deadlock inside FFmpeg; slice threads are safe.
        rate = Fraction(fps) if fps else (_stream_rate(stream) or Fraction(24))
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)
        t0 = int(stream.start_time or 0)
        if start > 0:
            target = t0 + int((Fraction(start) / rate - 1 / (2 * rate)) / tb)
            container.seek(max(t0, target), stream=stream, backward=True, any_frame=False)
        k = start  # the next grid slot to yield
        held: Any = None  # the last decoded frame (av.VideoFrame), converted only when shown
        held_rgb: np.ndarray | None = None
        sequential = -1
        for frame in _decode_checked(container, stream):
            sequential += 1
            if frame.pts is None:
                slot = sequential if start == 0 else k
            else:
                slot = int(((frame.pts - t0) * tb * rate + Fraction(1, 2)) // 1)
            if held is None and slot > k:
                held = frame  # nothing earlier: this frame also covers the slots before it
            # Slots before this frame's own slot show the frame held so far (the gaps of a
            # variable-rate file); a frame whose slot is already past (before ``start``, or a
            # second frame in one slot) is only held.
            while held is not None and k < slot:
                if stop is not None and k >= stop:
                    return
                if held_rgb is None:
                    held_rgb = held.to_ndarray(format="rgb24")
                yield held_rgb
                k += 1
            held, held_rgb = frame, None
            if slot == k:
                if stop is not None and k >= stop:
                    return
                held_rgb = frame.to_ndarray(format="rgb24")
                yield held_rgb
                k += 1
        # The file ended: a variable-rate file's last frame covers the rest of its last slot.
    finally:
        container.close()


def count_frames(path: str | os.PathLike[str]) -> int:
    return sum(1 for _ in read_frames(path))


# --- writing -----------------------------------------------------------------------------------


class VideoWriter:
    """Writes RGB uint8 frames to FFV1/Matroska (``codec="ffv1"``, lossless: masters and
    intermediates) or H.264/MP4 (``codec="h264"``: access copies, proxies), one at a time.

    ``audio_from``: a file whose audio streams are carried along, interleaved as the video is
    written so nothing is buffered: copied as they are into Matroska, copied into MP4 when the
    codec fits (AAC, MP3), otherwise re-encoded to AAC. ``audio_offset_s`` shifts them (a
    chunk that starts later in the film). Frame ``i`` has time ``i / fps`` exactly; the audio
    keeps its own timestamps, so both stay in sync when the film keeps its duration. Call
    ``close()`` (or use ``with``); ``abort()`` removes the partial file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        fps: Fraction,
        codec: str = "ffv1",
        audio_from: str | os.PathLike[str] | None = None,
        audio_offset_s: float = 0.0,
        crf: int = 18,
        preset: str = "medium",
        metadata: dict[str, str] | None = None,
    ) -> None:
        _require_av()
        if codec not in {"ffv1", "h264"}:
            raise ValueError(f"codec must be ffv1 or h264, got {codec!r}")
        self.path = str(path)
        self.codec = codec
        self.width, self.height = int(width), int(height)
        self.fps = Fraction(fps)
        self.frames = 0
        self.md5s: list[str] = []
        fmt = "matroska" if codec == "ffv1" else "mp4"
        # Bit-exact: the same frames give the same bytes (no random ids, no dates, no
        # encoder version strings), so a re-run is recognised by its sha256.
        options = {"fflags": "+bitexact"}
        if codec == "h264":
            options["movflags"] = "+faststart"
        self._out = av.open(self.path, mode="w", format=fmt, options=options)
        if metadata:
            for key, value in metadata.items():
                self._out.metadata[key] = value
        if codec == "ffv1":
            stream = self._out.add_stream("ffv1", rate=self.fps)
            stream.pix_fmt = "bgr0"
            stream.codec_context.options = {"level": "3", "slicecrc": "1", "g": "1"}
            stream.width, stream.height = self.width, self.height
            self._even = (self.width, self.height)
        else:
            stream = self._out.add_stream("libx264", rate=self.fps)
            stream.pix_fmt = "yuv420p"
            stream.codec_context.options = {"crf": str(crf), "preset": preset}
            # 4:2:0 needs even sides: the odd last row/column is repeated.
            self._even = (self.width + self.width % 2, self.height + self.height % 2)
            stream.width, stream.height = self._even
        stream.codec_context.time_base = Fraction(1) / self.fps
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        self._stream = stream
        self._audio: _AudioCarrier | None = None
        if audio_from is not None:
            self._audio = _AudioCarrier(
                audio_from, self._out, mp4=(codec == "h264"), offset_s=audio_offset_s
            )
        self._closed = False

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray, *, keep_hash: bool = False) -> None:
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            if frame.ndim == 2 and frame.dtype == np.uint8:
                frame = np.repeat(frame[:, :, None], 3, axis=2)
            else:
                raise ValueError(f"frames must be HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}")
        if frame.shape[0] != self.height or frame.shape[1] != self.width:
            raise ValueError(
                f"frame {self.frames} is {frame.shape[1]}x{frame.shape[0]}, "
                f"the film is {self.width}x{self.height}"
            )
        if keep_hash:
            self.md5s.append(frame_md5(frame))
        if self._even != (self.width, self.height):
            frame = np.pad(
                frame,
                ((0, self._even[1] - self.height), (0, self._even[0] - self.width), (0, 0)),
                mode="edge",
            )
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.frames
        vf.time_base = Fraction(1) / self.fps
        for packet in self._stream.encode(vf):
            self._out.mux(packet)
        self.frames += 1
        if self._audio is not None:
            self._audio.carry_until(float(self.frames / self.fps))

    def write_all(self, frames: Iterable[np.ndarray]) -> int:
        for frame in frames:
            self.write(frame)
        return self.frames

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for packet in self._stream.encode():
            self._out.mux(packet)
        if self._audio is not None:
            self._audio.carry_until(float(self.frames / self.fps))
            self._audio.finish()
        self._out.close()

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # the partial file is removed anyway
                self._out.close()
            if self._audio is not None:
                self._audio.close_input()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    @property
    def duration(self) -> float:
        return float(self.frames / self.fps)


_MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3"}


class _AudioCarrier:
    """Copies (or re-encodes) the audio of a source into an output container, packet by packet,
    as far as the video written so far, so the muxer interleaves them."""

    def __init__(self, source: str | os.PathLike[str], out: Any, *, mp4: bool, offset_s: float):
        self._in = av.open(str(source))
        self._out = out
        self._offset = offset_s
        self._pairs: list[tuple[Any, Any, bool]] = []  # (in stream, out stream, transcode)
        for s in self._in.streams.audio:
            transcode = mp4 and s.codec_context.name not in _MP4_AUDIO
            if transcode:
                o = out.add_stream("aac", rate=s.codec_context.sample_rate or 48000)
                if s.codec_context.layout:
                    o.layout = s.codec_context.layout
                self._resampler = None
            else:
                o = out.add_stream_from_template(s)
            self._pairs.append((s, o, transcode))
        self._packets = self._in.demux(*[p[0] for p in self._pairs]) if self._pairs else iter(())
        self._pending: Any = None
        self._done = not self._pairs

    def carry_until(self, t: float) -> None:
        while not self._done:
            packet = self._pending
            self._pending = None
            if packet is None:
                try:
                    packet = next(self._packets)
                except StopIteration:
                    self._done = True
                    return
            if packet.dts is None and packet.size == 0:
                continue  # a flush packet
            when = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
            if when - self._offset >= t:  # not yet covered by the pictures written
                self._pending = packet
                return
            self._emit(packet)

    def _emit(self, packet: Any) -> None:
        for s, o, transcode in self._pairs:
            if packet.stream is not s:
                continue
            shift = int(round(self._offset / packet.time_base)) if self._offset else 0
            if transcode:
                for frame in packet.decode():
                    if frame.pts is not None:
                        frame.pts -= shift
                    for out_packet in o.encode(frame):
                        self._out.mux(out_packet)
            else:
                if packet.pts is not None and packet.pts - shift < 0:
                    return  # before this chunk
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = o
                self._out.mux(packet)

    def finish(self) -> None:
        # Audio beyond the film's last frame is left out: the film ends where its pictures do.
        for _s, o, transcode in self._pairs:
            if transcode:
                for out_packet in o.encode(None):
                    self._out.mux(out_packet)
        self.close_input()

    def close_input(self) -> None:
        self._in.close()


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: Fraction,
    codec: str = "ffv1",
    audio_from: str | os.PathLike[str] | None = None,
) -> int:
    """Write ``frames`` (any iterable, consumed lazily) to ``path``; returns the frame count.
    The size is taken from the first frame; nothing is written for an empty iterable."""
    iterator = iter(frames)
    try:
        first = next(iterator)
    except StopIteration:
        raise ValueError("no frames to write") from None
    height, width = first.shape[:2]
    with VideoWriter(
        path, width=width, height=height, fps=fps, codec=codec, audio_from=audio_from
    ) as writer:
        writer.write(first)
        for frame in iterator:
            writer.write(frame)
        count = writer.frames
    return count


def has_audio(path: str | os.PathLike[str]) -> bool:
    container = _open(path)
    try:
        return bool(container.streams.audio)
    finally:
        container.close()
