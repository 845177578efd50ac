"""A tiny stand-in for the three torchvision names spandrel imports.

spandrel declares torchvision as a dependency but only uses
`torchvision.transforms.functional.{normalize, rotate, InterpolationMode}` (RestoreFormer and
LaMa). torchvision has no CPU wheel matching our torch pin, so when it is absent we register this
module under its names before spandrel is imported. A real torchvision, if present, always wins.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import types
from collections.abc import Sequence
from enum import Enum

import torch
import torch.nn.functional as F  # noqa: N812


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def normalize(
    tensor: torch.Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False
) -> torch.Tensor:
    """(tensor - mean) / std per channel, channels at dim -3 (as torchvision)."""
    m = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    if inplace:
        return tensor.sub_(m).div_(s)
    return (tensor - m) / s


def rotate(
    img: torch.Tensor,
    angle: float | torch.Tensor,
    interpolation: InterpolationMode = InterpolationMode.NEAREST,
    expand: bool = False,
    center: Sequence[int] | None = None,
    fill: float | Sequence[float] | None = None,
) -> torch.Tensor:
    """Counter-clockwise rotation about the centre, same canvas (expand/center unsupported)."""
    if expand or center is not None:
        raise NotImplementedError("tvshim.rotate supports neither expand nor center")
    theta = math.radians(float(angle))
    cos, sin = math.cos(theta), math.sin(theta)
    batched = img if img.dim() == 4 else img.unsqueeze(0)
    n, _, h, w = batched.shape
    # affine_grid works in normalised coordinates; the aspect terms keep the rotation rigid.
    matrix = torch.tensor(
        [[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]],
        dtype=batched.dtype,
        device=batched.device,
    ).expand(n, 2, 3)
    grid = F.affine_grid(matrix, list(batched.shape), align_corners=False)
    mode = "nearest" if interpolation == InterpolationMode.NEAREST else "bilinear"
    out = F.grid_sample(batched, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill:
        value = float(fill) if isinstance(fill, int | float) else float(fill[0])
        ones = torch.ones_like(batched[:, :1])
        coverage = F.grid_sample(ones, grid, mode=mode, padding_mode="zeros", align_corners=False)
        out = out + (1.0 - coverage) * value
    return out if img.dim() == 4 else out[0]


def install_if_missing() -> bool:
    """Register the shim as `torchvision` when the real package is absent; True if installed."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return False
    root = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.normalize = normalize  # type: ignore[attr-defined]
    functional.rotate = rotate  # type: ignore[attr-defined]
    functional.InterpolationMode = InterpolationMode  # type: ignore[attr-defined]
    transforms.functional = functional  # type: ignore[attr-defined]
    transforms.InterpolationMode = InterpolationMode  # type: ignore[attr-defined]
    root.transforms = transforms  # type: ignore[attr-defined]
    root.__version__ = "0.0.0+engine-shim"  # type: ignore[attr-defined]
    sys.modules["torchvision"] = root
    sys.modules["torchvision.transforms"] = transforms
    sys.modules["torchvision.transforms.functional"] = functional
    return True
