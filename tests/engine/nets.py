"""Randomly initialised networks of real architectures, for the engine tests and bench/engine.py.

Saved as state dicts, they exercise spandrel's detection and the real key layout honestly.
Their outputs are noise: they test plumbing and speed, never quality.
"""

from __future__ import annotations

from pathlib import Path

import torch


def random_network(
    kind: str, *, compact_feat: int, compact_conv: int, compact_scale: int
) -> torch.nn.Module:
    """A fresh network; CodeFormer and DDColor need spandrel_extra_arches (ImportError without)."""
    from restoration.engine.models import spandrel_module

    spandrel_module()
    if kind == "gfpgan":
        from spandrel.architectures.GFPGAN import GFPGAN

        return GFPGAN(
            out_size=512,
            num_style_feat=512,
            channel_multiplier=2,
            decoder_load_path=None,
            fix_decoder=False,
            num_mlp=8,
            input_is_latent=True,
            different_w=True,
            narrow=1,
            sft_half=True,
        )
    if kind == "codeformer":
        from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

        return CodeFormer()
    if kind == "ddcolor":
        from spandrel_extra_arches.architectures.DDColor import DDColor

        return DDColor(
            encoder_name="convnext-t",
            decoder_name="MultiScaleColorDecoder",
            num_input_channels=3,
            input_size=(256, 256),
            nf=512,
            num_output_channels=2,
            last_norm="Spectral",
            do_normalize=False,
            num_queries=100,
            num_scales=3,
            dec_layers=9,
        )
    if kind == "compact":
        from spandrel.architectures.Compact import Compact

        return Compact(
            num_in_ch=3,
            num_out_ch=3,
            num_feat=compact_feat,
            num_conv=compact_conv,
            upscale=compact_scale,
        )
    raise ValueError(f"unknown random network kind {kind!r}")


def save_random_weights(
    kind: str,
    folder: Path,
    *,
    seed: int,
    compact_feat: int = 16,
    compact_conv: int = 4,
    compact_scale: int = 2,
) -> Path:
    """Seed, build and save ``folder/random-<kind>.pth``; returns its path."""
    torch.manual_seed(seed)
    net = random_network(
        kind, compact_feat=compact_feat, compact_conv=compact_conv, compact_scale=compact_scale
    )
    path = folder / f"random-{kind}.pth"
    torch.save({k: v.contiguous() for k, v in net.state_dict().items()}, path)
    return path
