"""`colorize_keyframes`: colour decided on a few keyframes, carried through each shot along
optical flow.

Keyframes (``keyframes`` param) are frames whose colour a person decided, with the evidence:
- ``{"frame": n, "image": <artifact id>, "citations": [...]}``: a hand-coloured frame (a manual
  step's output, any size). It is aligned onto the film's frame n (resized, then an affine ECC
  registration of its lightness to the frame's, Evangelidis & Psarakis 2008) and its a*/b*
  chroma (CIE Lab) becomes the frame's;
- ``{"frame": n, "hints": [...], "citations": [...]}``: cited colour hints, turned into the
  frame's chroma by the engine's ``colorize_hints`` (Levin et al. 2004).

Lightness always stays the film's own: only a*/b* are carried. Within a shot the chroma of a
keyframe is carried frame to frame along DIS optical flow (backward warping: each pixel takes
the chroma of where it came from), forwards from the keyframe before and backwards from the
keyframe after; between two keyframes the two are blended by time distance. Where the flow
fails its forward-backward check (occlusion, new content), the chroma comes from the exemplar
instead, in proportion to the distrust. The exemplar (Welsh et al. 2002, "Transferring colour
to greyscale images") matches each pixel by lightness, local mean and local contrast (and
height in the frame) to the keyframes' pixels and takes their chroma; a shot with no keyframe
at all is coloured by the exemplar alone (``fallback="exemplar"``) or left grey (``"none"``).
Nothing crosses a cut by flow.

Memory: a shot's frames between two keyframes are held until the later keyframe arrives (the
backward pass needs it), at most ``max_gap`` frames; ``window(params)`` is that bound, and a
runner should cut this operation's chunks at shot boundaries.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np
from scipy.spatial import cKDTree

from ..hints import ColorizeHints, guided_filter
from ..imageutil import lab_to_rgb, rgb_to_lab, to_float, to_uint8
from ..params import ParamSpec
from ..types import BadInputError, ParamError, RunContext
from .base import FilmContext, FilmMeta, FilmOperation, JsonParam, ShotTracker
from .frames import CV, consistency, dense_flow, luma, shrink, warp, work_scale
from .scene import detector_from

MAX_KEYFRAMES = 1000
_HINTS_SPEC = ParamSpec("hints", "hints")


def _check_keyframes(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list | tuple) or not value:
        raise ParamError(name, "must be a non-empty list of keyframes")
    if len(value) > MAX_KEYFRAMES:
        raise ParamError(name, f"at most {MAX_KEYFRAMES} keyframes, got {len(value)}")
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, item in enumerate(value):
        field = f"{name}[{i}]"
        if not isinstance(item, Mapping):
            raise ParamError(field, "must be an object {frame, image | hints, citations?}")
        extra = set(item) - {"frame", "image", "hints", "citations", "note"}
        if extra:
            raise ParamError(
                f"{field}.{sorted(extra)[0]}",
                "unknown key (allowed: frame, image, hints, citations, note)",
            )
        frame = item.get("frame")
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise ParamError(f"{field}.frame", f"must be a frame number >= 0, got {frame!r}")
        if frame in seen:
            raise ParamError(f"{field}.frame", f"frame {frame} has two keyframes")
        seen.add(frame)
        has_image, has_hints = item.get("image") is not None, item.get("hints") is not None
        if has_image == has_hints:
            raise ParamError(field, "needs exactly one of 'image' (an artifact) or 'hints'")
        kf: dict[str, Any] = {"frame": frame}
        if has_image:
            image = item["image"]
            if (
                isinstance(image, bool)
                or not isinstance(image, int | str)
                or (isinstance(image, str) and not image.strip())
            ):
                raise ParamError(f"{field}.image", f"must be an artifact id, got {image!r}")
            kf["image"] = image
        else:
            try:
                kf["hints"] = _HINTS_SPEC.normalise(item["hints"])
            except ParamError as exc:
                raise ParamError(f"{field}.{exc.field}", exc.message) from None
        citations = item.get("citations", [])
        if not isinstance(citations, list | tuple) or any(
            isinstance(c, bool) or not isinstance(c, int | str) for c in citations
        ):
            raise ParamError(f"{field}.citations", "must be a list of citation ids")
        kf["citations"] = list(citations)
        if item.get("note") is not None:
            if not isinstance(item["note"], str) or len(item["note"]) > 2000:
                raise ParamError(f"{field}.note", "must be a string of at most 2000 characters")
            kf["note"] = item["note"]
        out.append(kf)
    return sorted(out, key=lambda k: k["frame"])


_KEYFRAMES_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "frame": {"type": "integer", "minimum": 0},
            "image": {"type": ["integer", "string"], "format": "artifact"},
            "hints": {"type": "array"},
            "citations": {"type": "array", "items": {"type": ["integer", "string"]}},
            "note": {"type": "string"},
        },
        "required": ["frame"],
        "additionalProperties": False,
    },
}


def role_of(kf: Mapping[str, Any]) -> str:
    return f"keyframe_{kf['frame']}"


def align_keyframe(colour: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """``colour`` (any size, RGB uint8) resized and affinely registered onto ``frame``."""
    h, w = frame.shape[:2]
    resized = cv2.resize(colour, (w, h), interpolation=cv2.INTER_AREA)
    scale = work_scale(w, h, 320)
    a = shrink(luma(frame), scale).astype(np.float32)
    b = shrink(luma(resized), scale).astype(np.float32)
    a = (a - a.mean()) / (a.std() + 1e-3)
    b = (b - b.mean()) / (b.std() + 1e-3)
    before = float((a * b).mean())
    m = np.eye(2, 3, dtype=np.float32)
    try:
        cc, m = CV.findTransformECC(
            a, b, m, cv2.MOTION_AFFINE,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5), None, 5,
        )  # fmt: skip
    except cv2.error:
        return resized, {"registered": False, "correlation": round(before, 4)}
    full = m.copy()
    full[:, 2] /= scale
    aligned = cv2.warpAffine(
        resized, full, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return aligned, {
        "registered": True,
        "correlation_before": round(before, 4),
        "correlation": round(float(cc), 4),
        "affine": [[round(float(v), 5) for v in row] for row in full],
    }


def _rank(lightness: np.ndarray) -> np.ndarray:
    """Lightness replaced by its rank (0..100): frames of one film differ in exposure."""
    flat = lightness.ravel()
    order = np.argsort(flat, kind="stable")
    ranks = np.empty(order.shape, np.float32)
    ranks[order] = np.arange(flat.size, dtype=np.float32)
    return (ranks * (100.0 / flat.size)).reshape(lightness.shape)


class Exemplar:
    """Chroma by matching regions to the keyframes' (after Welsh et al. 2002, on superpixels).

    Each image is cut into ~150 SLIC superpixels (Achanta et al. 2012) of its rank-normalised
    lightness; a region is described by its mean rank, its mean gradient (texture) and its
    height in the frame, and takes the mean chroma of its 6 nearest keyframe regions, shrunk
    by their agreement (|mean| / mean |.|, squared): where the keyframes disagree, less colour
    is safer than a wrong one. Weights chosen on the corpus clip's keyframes (see the tests)."""

    SIZE = 160
    SEGMENTS = 150
    NEIGHBOURS = 6
    WEIGHTS = (0.3, 2.0, 1.0)  # lightness rank, gradient, height (x100)

    def __init__(self) -> None:
        self.feats: list[np.ndarray] = []
        self.chroma: list[np.ndarray] = []
        self.tree: cKDTree | None = None

    @classmethod
    def _segments(cls, lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from skimage.segmentation import slic

        rank = _rank(lightness)
        seg = slic(rank, n_segments=cls.SEGMENTS, compactness=0.1, channel_axis=None, start_label=0)
        h, w = rank.shape
        grad = np.hypot(cv2.Sobel(rank, cv2.CV_32F, 1, 0), cv2.Sobel(rank, cv2.CV_32F, 0, 1))
        ys = np.repeat((np.arange(h, dtype=np.float32) / h)[:, None], w, axis=1)
        n = int(seg.max()) + 1
        count = np.bincount(seg.ravel(), minlength=n) + 1e-6
        feats = np.stack(
            [
                cls.WEIGHTS[0] * np.bincount(seg.ravel(), rank.ravel(), minlength=n) / count,
                cls.WEIGHTS[1] * np.bincount(seg.ravel(), grad.ravel(), minlength=n) / count,
                cls.WEIGHTS[2] * 100.0 * np.bincount(seg.ravel(), ys.ravel(), minlength=n) / count,
            ],
            axis=1,
        )
        return seg, feats

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        s = self.SIZE / float(max(h, w))
        return cv2.resize(
            image, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA
        )

    def add(self, frame_rgb: np.ndarray, ab: np.ndarray) -> None:
        """A coloured frame: its RGB and its chroma ``ab`` (HxWx2, same size)."""
        lab = rgb_to_lab(to_float(self._small(frame_rgb)))
        small_ab = cv2.resize(ab, (lab.shape[1], lab.shape[0]), interpolation=cv2.INTER_AREA)
        seg, feats = self._segments(lab[..., 0])
        n = feats.shape[0]
        count = np.bincount(seg.ravel(), minlength=n) + 1e-6
        chroma = np.stack(
            [
                np.bincount(seg.ravel(), small_ab[..., c].ravel(), minlength=n) / count
                for c in (0, 1)
            ],
            axis=1,
        )
        self.feats.append(feats)
        self.chroma.append(chroma)
        self.tree = cKDTree(np.concatenate(self.feats))

    def __bool__(self) -> bool:
        return self.tree is not None

    def predict(self, lightness: np.ndarray) -> np.ndarray:
        """Chroma HxWx2 for a frame of full-size ``lightness`` (CIE L, 0..100)."""
        assert self.tree is not None
        h, w = lightness.shape
        small = self._small(lightness)
        seg, feats = self._segments(small)
        table = np.concatenate(self.chroma)
        k = min(self.NEIGHBOURS, table.shape[0])
        _, idx = self.tree.query(feats, k=k)
        near = table[np.asarray(idx).reshape(len(feats), k)]
        mean = near.mean(axis=1)
        agreement = np.linalg.norm(mean, axis=1) / (
            np.linalg.norm(near, axis=2).mean(axis=1) + 1e-3
        )
        mean = mean * (agreement**2)[:, None]
        ab = cv2.resize(mean[seg].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        radius = max(2, round(2.0 * max(h, w) / self.SIZE))
        return guided_filter(lightness / 100.0, ab, radius, 1e-3)


class ColorizeKeyframes(FilmOperation):
    name = "colorize_keyframes"
    version = "1.0"
    description = (
        "Colour decided on keyframes (hand-coloured frames or cited colour hints) and carried "
        "through each shot along optical flow, forwards and backwards; occlusions and shots "
        "without a keyframe take colour from the keyframes by exemplar matching. Each "
        "keyframe's evidence stays in the step's analysis."
    )
    params = (
        JsonParam(
            "keyframes",
            "str",
            required=True,
            checker=_check_keyframes,
            schema=_KEYFRAMES_SCHEMA,
            description="[{frame, image: artifact id | hints: [...], citations?, note?}]",
        ),
        ParamSpec("fallback", "str", default="exemplar", choices=("exemplar", "none")),
        ParamSpec("flow_side", "int", default=480, minimum=64, maximum=4096),
        ParamSpec(
            "max_gap",
            "int",
            default=120,
            minimum=1,
            maximum=5000,
            description="most frames held while waiting for the next keyframe of a shot",
        ),
        ParamSpec(
            "solve_pixels",
            "int",
            default=100_000,
            minimum=10_000,
            maximum=4_000_000,
            description="working size of colorize_hints on hint keyframes",
        ),
        ParamSpec("cut_threshold", "float", default=0.55, minimum=0.05, maximum=5.0),
    )
    frames_held = 2.0
    bytes_per_pixel = 48.0

    def window(self, params: Mapping[str, Any]) -> int:
        return int(params.get("max_gap", 120))

    def artifacts_needed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {role_of(kf): kf["image"] for kf in params["keyframes"] if "image" in kf}

    def process(
        self,
        frames: Iterator[tuple[int, np.ndarray]],
        meta: FilmMeta,
        params: dict[str, Any],
        ctx: FilmContext,
    ) -> Iterator[np.ndarray]:
        keyframes = {kf["frame"]: kf for kf in params["keyframes"]}
        kf_frames = sorted(keyframes)
        for kf in keyframes.values():
            if "image" in kf and role_of(kf) not in ctx.inputs:
                raise BadInputError(
                    f"keyframe at frame {kf['frame']}: image {kf['image']!r} was not provided"
                )
        exemplar = Exemplar()
        for kf in keyframes.values():
            if "image" in kf:
                img = ctx.inputs[role_of(kf)]
                lab = rgb_to_lab(to_float(img))
                exemplar.add(img, lab[..., 1:])
        scale = work_scale(meta.width, meta.height, params["flow_side"])
        tracker = ShotTracker(meta, detector_from(params))
        evidence: dict[int, dict[str, Any]] = {}
        sources: list[str] = []
        chroma_out: list[float] = []
        citations: list[Any] = []
        max_gap = params["max_gap"]

        # State of the current shot.
        held: list[dict[str, Any]] = []  # frames waiting for a later keyframe
        fwd: np.ndarray | None = None  # chroma carried forwards (work size)
        fwd_from: int | None = None  # the keyframe it came from
        prev_small: np.ndarray | None = None

        def small_grey(frame: np.ndarray) -> np.ndarray:
            return shrink(luma(frame), scale)

        def carry(
            ab: np.ndarray, grey_to: np.ndarray, grey_from: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray]:
            """``ab`` (on grey_from) carried onto grey_to; and the trust of each pixel."""
            f_to_from = dense_flow(grey_to, grey_from, "medium")
            f_from_to = dense_flow(grey_from, grey_to, "medium")
            trust = 1.0 / (1.0 + (consistency(f_to_from, f_from_to) / 1.5) ** 2)
            return warp(ab, f_to_from), trust.astype(np.float32)

        def finish(
            frame: np.ndarray, ab_small: np.ndarray | None, trust: np.ndarray | None, source: str
        ) -> np.ndarray:
            lab = rgb_to_lab(to_float(frame))
            h, w = frame.shape[:2]
            if ab_small is None:
                if params["fallback"] == "exemplar" and exemplar:
                    ab = exemplar.predict(lab[..., 0])
                    source = "exemplar"
                else:
                    ab = np.zeros((h, w, 2), np.float32)
                    source = "grey"
            else:
                ab = cv2.resize(ab_small, (w, h), interpolation=cv2.INTER_LINEAR)
                if trust is not None and exemplar and params["fallback"] == "exemplar":
                    t = cv2.resize(trust, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
                    if float(t.mean()) < 0.999:
                        ab = t * ab + (1 - t) * exemplar.predict(lab[..., 0])
            sources.append(source)
            chroma_out.append(round(float(np.hypot(ab[..., 0], ab[..., 1]).mean()), 3))
            lab[..., 1:] = ab
            return to_uint8(lab_to_rgb(lab))

        def keyframe_chroma(index: int, frame: np.ndarray) -> np.ndarray:
            """Full-size chroma of keyframe ``index``, and its evidence recorded."""
            kf = keyframes[index]
            ev: dict[str, Any] = {"frame": index, "citations": kf["citations"]}
            if "note" in kf:
                ev["note"] = kf["note"]
            if "image" in kf:
                aligned, facts = align_keyframe(ctx.inputs[role_of(kf)], frame)
                ab = rgb_to_lab(to_float(aligned))[..., 1:]
                ev.update({"kind": "image", "image": kf["image"], "alignment": facts})
                exemplar_add = False
            else:
                sub = RunContext(seed=ctx.seed, should_cancel=ctx.should_cancel)
                result = ColorizeHints().run(
                    _inputs(frame),
                    {"hints": kf["hints"], "solve_pixels": params["solve_pixels"]},
                    sub,
                )
                ab = rgb_to_lab(to_float(result.image))[..., 1:]
                ev.update({"kind": "hints", "hints": kf["hints"], "facts": result.record["facts"]})
                for c in result.record["citations"]:
                    if c not in kf["citations"]:
                        ev["citations"] = [*ev["citations"], c]
                exemplar_add = True
            ev["mean_chroma"] = round(float(np.hypot(ab[..., 0], ab[..., 1]).mean()), 3)
            evidence[index] = ev
            for c in ev["citations"]:
                if c not in citations:
                    citations.append(c)
            if exemplar_add:
                exemplar.add(frame, ab)
            return ab.astype(np.float32)

        def flush_held() -> Iterator[np.ndarray]:
            """Emit held frames with what they have (forwards chroma, else the fallback)."""
            for item in held:
                if meta.emits(item["index"]):
                    yield finish(item["frame"], item["fwd"], item["trust"], "propagated")
            held.clear()

        def next_keyframe_after(index: int) -> int | None:
            for k in kf_frames:
                if k > index:
                    return k
            return None

        for index, frame in frames:
            cut = tracker.is_cut(index, frame)
            if cut:
                yield from flush_held()
                fwd, fwd_from, prev_small = None, None, None
            grey = small_grey(frame)
            if index in keyframes:
                ab_full = keyframe_chroma(index, frame)
                ab_small = cv2.resize(
                    ab_full, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_AREA
                )
                # Backwards from this keyframe through the held frames, blended with forwards.
                back = ab_small
                later_grey = grey
                for item in reversed(held):
                    back, trust_b = carry(back, item["grey"], later_grey)
                    later_grey = item["grey"]
                    d_next = index - item["index"]
                    if item["fwd"] is not None:
                        d_prev = item["index"] - item["from"]
                        wf = d_next / (d_prev + d_next)
                        tf = item["trust"]
                        a = wf * tf + 1e-3
                        b = (1 - wf) * trust_b + 1e-3
                        item["ab"] = (item["fwd"] * a[..., None] + back * b[..., None]) / (a + b)[
                            ..., None
                        ]
                        item["trust_all"] = np.maximum(tf, trust_b)
                    else:
                        item["ab"] = back
                        item["trust_all"] = trust_b
                    back = item["ab"]
                for item in held:
                    if meta.emits(item["index"]):
                        yield finish(item["frame"], item["ab"], item["trust_all"], "propagated")
                held.clear()
                fwd, fwd_from, prev_small = ab_small, index, grey
                if meta.emits(index):
                    out = frame_with(frame, ab_full)
                    sources.append("keyframe")
                    chroma_out.append(evidence[index]["mean_chroma"])
                    yield out
                continue
            trust = None
            if fwd is not None and prev_small is not None:
                fwd, trust = carry(fwd, grey, prev_small)
            prev_small = grey
            nxt = next_keyframe_after(index)
            waiting = (
                nxt is not None
                and nxt - index <= max_gap
                and (not held or nxt - held[0]["index"] <= max_gap)
            )
            if waiting:
                # Context frames are held too: they carry colour towards the emitted ones.
                held.append({
                    "index": index, "frame": frame, "grey": grey,
                    "fwd": None if fwd is None else fwd.copy(), "trust": trust, "from": fwd_from,
                })  # fmt: skip
                continue
            yield from flush_held()
            if meta.emits(index):
                yield finish(frame, fwd, trust, "propagated" if fwd is not None else "exemplar")
        yield from flush_held()
        missing = [k for k in kf_frames if k not in evidence and meta.emits(k)]
        ctx.analysis = {
            "keyframes": [evidence[k] for k in sorted(evidence) if meta.emits(k)],
            "keyframes_not_reached": missing,
            "sources": sources,
            "mean_chroma": chroma_out,
            "citations": citations,
        }


def frame_with(frame: np.ndarray, ab: np.ndarray) -> np.ndarray:
    lab = rgb_to_lab(to_float(frame))
    lab[..., 1:] = ab
    return to_uint8(lab_to_rgb(lab))


def _inputs(frame: np.ndarray) -> Any:
    from ..types import OpInputs

    return OpInputs(frame)
