"""GPEN-BFR: a GAN-prior face restorer (Yang et al., "GAN Prior Embedded Network for Blind Face
Restoration in the Wild", CVPR 2021), written here so that the published state dicts
(`GPEN-BFR-512.pth`, `GPEN-BFR-256.pth`) load key for key. spandrel does not know GPEN.

The network is a U-shaped encoder-decoder around a StyleGAN2 generator:

- the encoder (`ecd0` ... `ecd{n}`) is a 1x1 conv to the finest width, then one stride-2 3x3
  conv per halving down to 4x4 (each conv: blur before the stride, equalised learning rate,
  fused leaky ReLU); `final_linear` maps the 4x4 features to one 512-d latent;
- the generator (`generator.*`) is StyleGAN2's synthesis network: an 8-layer mapping MLP on
  the latent (pixel norm first, learning-rate multiplier 0.01), a learned 4x4 constant, and at
  each resolution two modulated 3x3 convs (the first upsampling by a transposed conv and a
  blur) and a 1x1 modulated `to_rgb` whose output is added to the upsampled skip image;
- the encoder's features replace StyleGAN2's noise: at each resolution the matching encoder
  feature map, scaled by a learned scalar, is *concatenated* to the conv's output (hence the
  doubled input widths), which is how the degraded face's structure reaches the GAN prior.

Widths per resolution r: 512 x `narrow` up to 32 px, then 256, 128, 64, 32, 16 x
`channel_multiplier` x `narrow` at 64, 128, 256, 512, 1024. The published 512 model has
channel_multiplier 2, narrow 1; the 256 model channel_multiplier 1, narrow 0.5. Both take and
give RGB in [-1, 1] at their size. Licence of the published code and weights: research and
non-commercial use only (© Alibaba DAMO Academy).

The FIR up/down-sampling of StyleGAN2 (`upfirdn2d`) is implemented with plain torch ops (zero
insertion, padding, a 2-D convolution with the flipped kernel), so no CUDA extension is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

BLUR = (1.0, 3.0, 3.0, 1.0)
ARCH_ID = "GPEN"


def _kernel(k: tuple[float, ...] = BLUR) -> torch.Tensor:
    t = torch.tensor(k, dtype=torch.float32)
    t = t[None, :] * t[:, None]
    return t / t.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, w)
    if up > 1:
        x = x.reshape(b * c, 1, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b * c, 1, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0) : x.shape[2] - max(-p1, 0), max(-p0, 0) : x.shape[3] - max(-p1, 0)]
    weight = torch.flip(kernel, (0, 1))[None, None].to(x.dtype)
    x = F.conv2d(x, weight)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x.reshape(b, c, x.shape[2], x.shape[3])


class _Blur(nn.Module):
    kernel: torch.Tensor

    def __init__(self, pad: tuple[int, int], gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("kernel", _kernel() * gain)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class _Upsample(nn.Module):
    """x2 FIR upsampling of the skip image (kernel x 4 keeps the mean)."""

    kernel: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", _kernel() * 4)
        # p = taps - factor = 2: (p + 1) // 2 + factor - 1 before, p // 2 after
        self.pad = (2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=2, pad=self.pad)


class _FusedLeakyReLU(nn.Module):
    """bias, leaky ReLU (0.2), gain sqrt(2): StyleGAN2's fused activation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _fused_lrelu(x, self.bias)


def _fused_lrelu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), 0.2) * math.sqrt(2.0)


class _EqualConv2d(nn.Module):
    def __init__(
        self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class _EqualLinear(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        *,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activate: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(cin)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return _fused_lrelu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class _ConvLayer(nn.Sequential):
    """[blur] + equalised conv (no bias when activated) + fused leaky ReLU; indices as published."""

    def __init__(self, cin: int, cout: int, k: int, downsample: bool = False) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(BLUR) - 2) + (k - 1)
            layers.append(_Blur(((p + 1) // 2, p // 2)))
            layers.append(_EqualConv2d(cin, cout, k, stride=2, padding=0, bias=False))
        else:
            layers.append(_EqualConv2d(cin, cout, k, padding=k // 2, bias=False))
        layers.append(_FusedLeakyReLU(cout))
        super().__init__(*layers)


class _ModulatedConv2d(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        k: int,
        style_dim: int,
        *,
        demodulate: bool = True,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.upsample = upsample
        if upsample:
            p = (len(BLUR) - 2) - (k - 1)
            self.blur = _Blur(((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)
        self.scale = 1.0 / math.sqrt(cin * k * k)
        self.padding = k // 2
        self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
        self.modulation = _EqualLinear(style_dim, cin, bias_init=1.0)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, cin, h, w = x.shape
        s = self.modulation(style).view(b, 1, cin, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum((2, 3, 4)) + 1e-8).view(
                b, self.cout, 1, 1, 1
            )
        x = x.reshape(1, b * cin, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * cin, self.cout, self.k, self.k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=b)
            out = self.blur(out.reshape(b, self.cout, out.shape[2], out.shape[3]))
            return out
        weight = weight.reshape(b * self.cout, cin, self.k, self.k)
        out = F.conv2d(x, weight, padding=self.padding, groups=b)
        return out.reshape(b, self.cout, out.shape[2], out.shape[3])


class _NoiseConcat(nn.Module):
    """GPEN's noise injection: the encoder's feature map, scaled, concatenated as channels."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.weight * feature), dim=1)


class _StyledConv(nn.Module):
    def __init__(self, cin: int, cout: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.conv = _ModulatedConv2d(cin, cout, 3, style_dim, upsample=upsample)
        self.noise = _NoiseConcat()
        self.activate = _FusedLeakyReLU(cout * 2)

    def forward(self, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), feature))


class _ToRGB(nn.Module):
    def __init__(self, cin: int, style_dim: int, upsample: bool = True) -> None:
        super().__init__()
        if upsample:
            self.upsample = _Upsample()
        self.conv = _ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class _ConstantInput(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))


class _PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


def gpen_channels(channel_multiplier: int, narrow: float) -> dict[int, int]:
    widths = {4: 512, 8: 512, 16: 512, 32: 512}
    for r, base in ((64, 256), (128, 128), (256, 64), (512, 32), (1024, 16), (2048, 8)):
        widths[r] = base * channel_multiplier
    return {r: int(w * narrow) for r, w in widths.items()}


class _Synthesis(nn.Module):
    """StyleGAN2's generator with concatenated 'noise' (the `generator.*` keys)."""

    def __init__(self, size: int, style_dim: int, n_mlp: int, channels: Mapping[int, int]) -> None:
        super().__init__()
        self.log_size = int(math.log2(size))
        self.style = nn.Sequential(
            _PixelNorm(),
            *[_EqualLinear(style_dim, style_dim, lr_mul=0.01, activate=True) for _ in range(n_mlp)],
        )
        self.input = _ConstantInput(channels[4])
        self.conv1 = _StyledConv(channels[4], channels[4], style_dim)
        self.to_rgb1 = _ToRGB(channels[4] * 2, style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        cin = channels[4]
        for i in range(3, self.log_size + 1):
            cout = channels[2**i]
            self.convs.append(_StyledConv(cin * 2, cout, style_dim, upsample=True))
            self.convs.append(_StyledConv(cout * 2, cout, style_dim))
            self.to_rgbs.append(_ToRGB(cout * 2, style_dim))
            cin = cout
        self.n_latent = self.log_size * 2 - 2

    def forward(self, latent_in: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        w = self.style(latent_in)
        latent = w.unsqueeze(1).repeat(1, self.n_latent, 1)
        out = self.input.input.repeat(latent.shape[0], 1, 1, 1)
        out = self.conv1(out, latent[:, 0], features[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * k](out, latent[:, i], features[2 * k + 1])
            out = self.convs[2 * k + 1](out, latent[:, i + 1], features[2 * k + 2])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


class GPEN(nn.Module):
    """GPEN-BFR (`FullGenerator` in the published code): RGB in [-1, 1] → RGB in [-1, 1]."""

    def __init__(
        self,
        size: int = 512,
        channel_multiplier: int = 2,
        narrow: float = 1.0,
        style_dim: int = 512,
        n_mlp: int = 8,
    ) -> None:
        super().__init__()
        if size not in (256, 512, 1024) or 2 ** int(math.log2(size)) != size:
            raise ValueError(f"GPEN size must be 256, 512 or 1024, got {size}")
        self.size = size
        self.channel_multiplier, self.narrow = channel_multiplier, narrow
        channels = gpen_channels(channel_multiplier, narrow)
        self.log_size = int(math.log2(size))
        self.generator = _Synthesis(size, style_dim, n_mlp, channels)
        self.ecd0 = nn.Sequential(_ConvLayer(3, channels[size], 1))
        cin = channels[size]
        for k, i in enumerate(range(self.log_size, 2, -1), start=1):
            cout = channels[2 ** (i - 1)]
            setattr(self, f"ecd{k}", nn.Sequential(_ConvLayer(cin, cout, 3, downsample=True)))
            cin = cout
        self.final_linear = nn.Sequential(_EqualLinear(channels[4] * 16, style_dim, activate=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for k in range(self.log_size - 1):
            x = getattr(self, f"ecd{k}")(x)
            feats.append(x)
        latent = self.final_linear(x.reshape(x.shape[0], -1))
        # each encoder feature serves both convs of its resolution, coarsest first; the 4x4
        # one only once (the first conv)
        doubled = [f for f in reversed(feats) for _ in range(2)][1:]
        return self.generator(latent, doubled)


# --- recognising and loading published weights ---------------------------------------------------


def looks_like_gpen(state: Mapping[str, Any]) -> bool:
    return all(
        k in state for k in ("ecd0.0.0.weight", "final_linear.0.weight", "generator.input.input")
    )


def gpen_config(state: Mapping[str, Any]) -> dict[str, Any]:
    """(size, channel_multiplier, narrow) read from the tensor shapes."""
    depth = 0
    while f"ecd{depth + 1}.0.1.weight" in state:
        depth += 1
    size = 2 ** (depth + 2)
    narrow = int(state["generator.input.input"].shape[1]) / 512
    finest = int(state["ecd0.0.0.weight"].shape[0])
    base = {256: 64, 512: 32, 1024: 16}[size]
    multiplier = round(finest / (base * narrow))
    return {"size": size, "channel_multiplier": multiplier, "narrow": narrow}


def gpen_from_state_dict(state: Mapping[str, Any]) -> GPEN:
    """A GPEN with `state` loaded strictly (every key, every shape)."""
    net = GPEN(**gpen_config(state))
    net.load_state_dict(dict(state), strict=True)
    return net.eval()


def read_state_dict(path: Path) -> dict[str, Any] | None:
    """The tensors of a .pth/.pt/.safetensors file (weights only: no code runs), or None.
    Memory-mapped where the format allows, so looking costs little for files that are not
    GPEN's."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(str(path), framework="pt") as fh:
                if "ecd0.0.0.weight" not in set(fh.keys()):
                    return None
            return dict(load_file(str(path)))
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # the legacy (non-zip) format cannot be memory-mapped
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - not ours to judge: spandrel will say what it is
        return None
    if isinstance(state, dict) and "params_ema" in state:
        state = state["params_ema"]
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        return None
    return {str(k).removeprefix("module."): v for k, v in state.items()}


class _Architecture:
    id = ARCH_ID
    name = "GPEN-BFR"


class GPENDescriptor:
    """What the engine uses of a spandrel descriptor, for a GPEN network: `model`,
    `architecture.id`, scale/purpose/channels/tiling/tags, `.to()`, `.eval()`, and a call that
    takes RGB in [0, 1] at any size and returns RGB in [0, 1] at the same size (the face is
    resized to the network's size and back; GPEN's [-1, 1] normalisation is applied here)."""

    architecture = _Architecture()
    scale = 1
    purpose = "FaceSR"
    input_channels = 3
    output_channels = 3
    tiling = "internal"
    supports_half = False

    def __init__(self, model: GPEN) -> None:
        self.model = model
        self.tags = (f"{model.size}px", f"x{model.channel_multiplier}", f"narrow {model.narrow:g}")

    def to(self, *args: Any, **kwargs: Any) -> GPENDescriptor:
        self.model.to(*args, **kwargs)
        return self

    def eval(self) -> GPENDescriptor:
        self.model.eval()
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        size = self.model.size
        if (h, w) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="area" if h > size else "bicubic")
        with torch.inference_mode():
            y = (self.model(x * 2.0 - 1.0) + 1.0) / 2.0
        if (h, w) != (size, size):
            y = F.interpolate(y, size=(h, w), mode="bicubic")
        return y.clamp(0.0, 1.0)


def load_gpen(path: Path) -> GPENDescriptor | None:
    """A descriptor when `path` holds GPEN weights, else None (and nothing is raised)."""
    state = read_state_dict(path)
    if state is None or not looks_like_gpen(state):
        return None
    return GPENDescriptor(gpen_from_state_dict(state))
