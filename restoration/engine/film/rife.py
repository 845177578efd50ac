"""RIFE HD v3 (Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation", ECCV 2022): the IFNet of the published HD v3 weights, written here so that
``rife-hdv3.safetensors`` loads key for key (``block0..2``, ``block_tea``; ``strict=True``).

Three IFBlocks refine, coarse to fine (at 1/4, 1/2 and full scale), a pair of flows from the
middle time to each frame (4 channels) and a blending mask. Each block sees both frames warped
by the current flows and the current mask (3 + 3 + 1 = 7 channels) plus the flows (4): it is run
on (frame 0, frame 1, mask) and on the swapped pair (frame 1, frame 0, -mask) and the two
estimates are averaged, which keeps the result symmetric. The output is
sigmoid(mask)·warp(frame 0) + (1 - sigmoid(mask))·warp(frame 1). ``block_tea`` (the training-time
teacher) is loaded, as the file has it, and never run.

HD v3 is trained for the midpoint only. For another time τ the midpoint flows are scaled
linearly (F_τ0 = 2τ·F_½0, F_τ1 = 2(1-τ)·F_½1, constant motion over one frame interval) and the
mask is re-weighted by the time distance, w0 = (1-τ)m / ((1-τ)m + τ(1-m)); at τ = ½ this is
exactly the network's output.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..files import file_sha256
from ..types import EngineError, ModelRef, UnavailableError

ARCHITECTURE = "RIFE-HDv3"
EXPECTED_TENSORS = 160


def _build() -> Any:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def conv(cin: int, cout: int, k: int = 3, stride: int = 1, pad: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, bias=True), nn.PReLU(cout))

    class IFBlock(nn.Module):
        def __init__(self, in_planes: int, c: int = 90) -> None:
            super().__init__()
            self.conv0 = nn.Sequential(conv(in_planes, c // 2, 3, 2, 1), conv(c // 2, c, 3, 2, 1))
            self.convblock0 = nn.Sequential(conv(c, c), conv(c, c))
            self.convblock1 = nn.Sequential(conv(c, c), conv(c, c))
            self.convblock2 = nn.Sequential(conv(c, c), conv(c, c))
            self.convblock3 = nn.Sequential(conv(c, c), conv(c, c))
            self.conv1 = nn.Sequential(
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2),
                nn.ConvTranspose2d(c // 2, 4, 4, 2, 1),
            )  # fmt: skip
            self.conv2 = nn.Sequential(
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2),
                nn.ConvTranspose2d(c // 2, 1, 4, 2, 1),
            )  # fmt: skip

        def forward(self, x: Any, flow: Any, scale: float) -> tuple[Any, Any]:
            if scale != 1:
                x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
                flow = (
                    F.interpolate(
                        flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False
                    )
                    / scale
                )
            feat = self.conv0(torch.cat((x, flow), 1))
            feat = self.convblock0(feat) + feat
            feat = self.convblock1(feat) + feat
            feat = self.convblock2(feat) + feat
            feat = self.convblock3(feat) + feat
            flow = self.conv1(feat)
            mask = self.conv2(feat)
            if scale != 1:
                flow = (
                    F.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False)
                    * scale
                )
                mask = F.interpolate(mask, scale_factor=scale, mode="bilinear", align_corners=False)
            return flow, mask

    def warp(img: Any, flow: Any) -> Any:
        n, _, h, w = flow.shape
        xs = torch.linspace(-1.0, 1.0, w, device=flow.device).view(1, 1, 1, w).expand(n, -1, h, -1)
        ys = torch.linspace(-1.0, 1.0, h, device=flow.device).view(1, 1, h, 1).expand(n, -1, -1, w)
        g = torch.cat([xs, ys], 1)
        f = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
        g = (g + f).permute(0, 2, 3, 1)
        return F.grid_sample(img, g, mode="bilinear", padding_mode="border", align_corners=True)

    class IFNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block0 = IFBlock(7 + 4, c=90)
            self.block1 = IFBlock(7 + 4, c=90)
            self.block2 = IFBlock(7 + 4, c=90)
            self.block_tea = IFBlock(10 + 4, c=90)  # training-time teacher: loaded, never run

        def forward(
            self, img0: Any, img1: Any, scales: tuple[float, ...] = (4, 2, 1)
        ) -> tuple[Any, Any]:
            n, _, h, w = img0.shape
            flow = img0.new_zeros((n, 4, h, w))
            mask = img0.new_zeros((n, 1, h, w))
            w0, w1 = img0, img1
            for block, scale in zip((self.block0, self.block1, self.block2), scales, strict=True):
                f0, m0 = block(torch.cat((w0, w1, mask), 1), flow, scale)
                f1, m1 = block(
                    torch.cat((w1, w0, -mask), 1), torch.cat((flow[:, 2:4], flow[:, :2]), 1), scale
                )
                flow = flow + (f0 + torch.cat((f1[:, 2:4], f1[:, :2]), 1)) / 2
                mask = mask + (m0 - m1) / 2
                w0 = warp(img0, flow[:, :2])
                w1 = warp(img1, flow[:, 2:4])
            return flow, mask

    return IFNet, warp


_lock = threading.Lock()
_nets: dict[tuple[str, str], Any] = {}


def _state_dict(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # a truncated or foreign file
        raise EngineError(f"{path.name}: cannot read as safetensors: {exc}") from exc


def looks_like_rife(keys: set[str]) -> bool:
    return {
        "block0.conv0.0.0.weight",
        "block2.conv2.2.weight",
        "block_tea.conv0.0.0.weight",
    } <= keys and not any(k.startswith("module.") for k in keys)


def inspect_rife(path: Path | str) -> dict[str, Any] | None:
    """Facts for ``models scan`` when ``path`` holds RIFE HD v3 weights, else None."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as fh:
            keys = set(fh.keys())
            if not looks_like_rife(keys):
                return None
            shape = tuple(fh.get_slice("block0.conv0.0.0.weight").get_shape())
    except Exception:
        return None
    if shape != (45, 11, 3, 3) or len(keys) != EXPECTED_TENSORS:
        return None
    return {
        "architecture": ARCHITECTURE,
        "purpose": "interpolate",
        "scale": 1,
        "license": "permissive",  # MIT, ECCV2022-RIFE
        "input_channels": 3,
        "output_channels": 3,
        "sha256": file_sha256(path),
        "size_bytes": path.stat().st_size,
    }


def load_rife(ref: ModelRef, device: str = "cpu") -> Any:
    """The IFNet with ``ref``'s weights, eval mode, loaded once per process and device; the
    file's sha256 is checked against the registered one (the step cites that hash)."""
    import torch

    key = (ref.sha256, device)
    with _lock:
        if key in _nets:
            return _nets[key]
        if not ref.path.is_file():
            raise UnavailableError(f"model {ref.name!r}: weights file {ref.path} is missing")
        actual = file_sha256(ref.path)
        if actual != ref.sha256:
            raise EngineError(
                f"model {ref.name!r}: file sha256 {actual[:12]}… differs from registered {ref.sha256[:12]}…"
            )
        ifnet, _ = _build()
        net = ifnet()
        state = _state_dict(ref.path)
        try:
            net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            raise EngineError(f"model {ref.name!r} is not RIFE HD v3 weights: {exc}") from exc
        net.to(torch.device(device)).eval()
        for p in net.parameters():
            p.requires_grad_(False)
        if len(_nets) >= 2:
            _nets.clear()
        _nets[key] = net
        return net


def build_random(seed: int = 0) -> Any:
    """A randomly initialised IFNet of the real layout (for tests of the plumbing only)."""
    import torch

    torch.manual_seed(seed)
    ifnet, _ = _build()
    return ifnet()


class RifeInterpolator:
    """``make(key, f0, f1, tau)`` for ``resample``: one network pass per frame pair."""

    def __init__(self, ref: ModelRef | None, device: str = "cpu", net: Any = None) -> None:
        self.net = net if net is not None else load_rife(ref, device)  # type: ignore[arg-type]
        self.device = device
        _, self._warp = _build()
        self._key: tuple[int, int] | None = None
        self._out: tuple[Any, Any, Any, Any] | None = None

    def _tensor(self, frame: np.ndarray) -> Any:
        import torch

        t = torch.from_numpy(np.array(frame, copy=True)).to(self.device)
        return t.permute(2, 0, 1)[None].float() / 255.0

    def _prepare(self, key: tuple[int, int], f0: np.ndarray, f1: np.ndarray) -> None:
        if self._key == key and self._out is not None:
            return
        import torch
        import torch.nn.functional as F

        h, w = f0.shape[:2]
        ph, pw = (h - 1) // 32 * 32 + 32, (w - 1) // 32 * 32 + 32
        i0 = F.pad(self._tensor(f0), (0, pw - w, 0, ph - h))
        i1 = F.pad(self._tensor(f1), (0, pw - w, 0, ph - h))
        with torch.inference_mode():
            flow, mask = self.net(i0, i1)
        self._key = key
        self._out = (i0, i1, flow, torch.sigmoid(mask))

    def __call__(
        self, key: tuple[int, int], f0: np.ndarray, f1: np.ndarray, tau: float
    ) -> np.ndarray:
        import torch

        self._prepare(key, f0, f1)
        assert self._out is not None
        i0, i1, flow, m = self._out
        t = float(tau)
        with torch.inference_mode():
            w0 = self._warp(i0, flow[:, :2] * (2.0 * t))
            w1 = self._warp(i1, flow[:, 2:4] * (2.0 * (1.0 - t)))
            a = (1.0 - t) * m
            wt = a / (a + t * (1.0 - m) + 1e-6)
            out = w0 * wt + w1 * (1.0 - wt)
        h, w = f0.shape[:2]
        arr = (
            out[0, :, :h, :w].clamp(0, 1).mul(255.0).add(0.5).byte().permute(1, 2, 0).cpu().numpy()
        )
        return np.ascontiguousarray(arr)
