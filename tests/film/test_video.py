"""The engine's video module: probe, validation, streaming, writers, audio (no database)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from restoration.engine import video as V
from tests.film import support


def test_ffv1_round_trip_is_lossless_and_manifest_matches(tmp_path):
    path = support.write(tmp_path / "a.mkv", 10, fps=Fraction(24000, 1001))
    facts = V.probe(path, poster_side=32)
    assert facts.codec == "ffv1"
    assert facts.fps == Fraction(24000, 1001)
    assert facts.frame_count == 10
    assert not facts.vfr
    assert facts.media_type == "video/x-matroska"
    assert abs(facts.duration - 10 * 1001 / 24000) < 1e-6
    originals = support.frames(10)
    assert facts.frame_md5 == [V.frame_md5(f) for f in originals]
    decoded = list(V.read_frames(path))
    assert all(np.array_equal(a, b) for a, b in zip(decoded, originals, strict=True))
    assert V.parse_manifest(facts.manifest_text()) == facts.frame_md5
    assert facts.poster and facts.poster[:2] == b"\xff\xd8"


def test_read_frames_range_seeks(tmp_path):
    path = support.write(tmp_path / "a.mkv", 30)
    originals = support.frames(30)
    part = list(V.read_frames(path, start=17, stop=22))
    assert len(part) == 5
    assert all(np.array_equal(a, originals[17 + i]) for i, a in enumerate(part))


def test_h264_access_copy_with_audio_in_sync(tmp_path):
    path = support.write(tmp_path / "a.mp4", 24, codec="h264", audio=True, size=(65, 47))
    facts = V.probe(path)
    assert facts.codec == "h264" and facts.media_type == "video/mp4"
    assert facts.width == 66 and facts.height == 48  # 4:2:0 needs even sides
    assert len(facts.audio) == 1 and facts.audio[0].codec == "aac"
    # Audio stops where the pictures stop (within an AAC frame).
    assert facts.audio[0].duration_s is None or abs(facts.audio[0].duration_s - 1.0) < 0.1


def test_audio_copied_into_matroska(tmp_path):
    src = support.write(tmp_path / "src.mp4", 24, codec="h264", audio=True)
    out = tmp_path / "out.mkv"
    with V.VideoWriter(out, width=64, height=48, fps=Fraction(24), audio_from=src) as w:
        for frame in V.read_frames(src):
            w.write(frame)
    facts = V.probe(out)
    assert facts.frame_count == 24 and [a.codec for a in facts.audio] == ["aac"]


def test_variable_frame_rate_is_detected_and_read_on_a_grid(tmp_path):
    import av

    path = tmp_path / "vfr.mkv"
    out = av.open(str(path), "w", format="matroska")
    stream = out.add_stream("ffv1", rate=25)
    stream.width, stream.height, stream.pix_fmt = 32, 16, "bgr0"
    stream.codec_context.time_base = Fraction(1, 1000)
    times_ms = [0, 40, 80, 200, 240, 280]  # a gap of three frames at 25 fps
    for i, t in enumerate(times_ms):
        frame = av.VideoFrame.from_ndarray(np.full((16, 32, 3), i * 30, np.uint8), "rgb24")
        frame.pts, frame.time_base = t, Fraction(1, 1000)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    facts = V.probe(path)
    assert facts.vfr and any("variable frame rate" in n for n in facts.notes)
    grid = [int(f[0, 0, 0]) for f in V.read_frames(path, fps=Fraction(25))]
    # Slots 3 and 4 (120, 160 ms) show the frame held from 80 ms: the timeline keeps its length.
    assert grid == [0, 30, 60, 60, 60, 90, 120, 150]


@pytest.mark.parametrize(
    ("maker", "code"),
    [
        ("fake", "not_video"),
        ("truncated", "truncated"),
        ("audio_only", "no_video"),
        ("png", "not_video"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, maker, code):
    path = tmp_path / "bad.mp4"
    if maker == "fake":
        path.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 100)
    elif maker == "truncated":
        good = support.write(tmp_path / "good.mp4", 48, codec="h264", size=(64, 48))
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif maker == "audio_only":
        path = support.tone(tmp_path / "bad.mka", seconds=0.5)
    elif maker == "png":
        from tests.conftest import image_bytes

        path.write_bytes(image_bytes("PNG"))
    with pytest.raises(V.VideoRejected) as info:
        V.probe(path)
    assert info.value.code == code, str(info.value)
    assert str(info.value)


def test_absurd_size_and_frame_count_are_refused_before_decoding(tmp_path):
    path = support.write(tmp_path / "a.mkv", 5)
    with pytest.raises(V.VideoRejected, match="larger than this archive accepts"):
        V.probe(path, limits=V.VideoLimits(max_width=32))
    with pytest.raises(V.VideoRejected, match="more than 3 frames") as info:
        V.probe(path, limits=V.VideoLimits(max_frames=3))
    assert info.value.code == "too_large"


def test_parse_fps():
    assert V.parse_fps("24000/1001") == Fraction(24000, 1001)
    assert V.parse_fps(23.976) == Fraction(24000, 1001)
    assert V.parse_fps("29.97") == Fraction(30000, 1001)
    assert V.parse_fps(16) == Fraction(16)
    assert V.parse_fps("12.5") == Fraction(25, 2)
    for bad in ("0", "-3", "abc", "1/0", True, 5000):
        with pytest.raises(ValueError):
            V.parse_fps(bad)
