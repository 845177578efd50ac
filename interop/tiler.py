"""The tiler: libvips' ``dzsave(layout="iiif3")`` and the access JPEG of one image, run in a
child process of its own under an OS-enforced memory budget (``RLIMIT_AS``), like the engine's
operations (restoration/engine/worker.py). Django-free: ``interop.tiles`` starts it as
``python -m interop.tiler SOURCE OUT --size N --memory-mb M`` and reads info.json (with
``sizes``) from its stdout.

libvips streams the image in strips (``access="sequential"``), so a budget of a few hundred
MiB tiles any size; an image whose decoding needs more fails here, in the child, and the
dramatiq worker that asked stays up and marks the tile set failed with the reason.

Exit codes: 0 done; 3 out of its memory budget (an allocation failed); 1 any other error
(its message is the last line of stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

ACCESS_NAME = "access.jpg"
EXIT_MEMORY = 3
_ALLOC_WORDS = ("memory", "allocat", "unable to create thread", "cannot create thread")


def render_tiles(source: Path, out: Path, *, size: int = 512) -> dict[str, Any]:
    """dzsave's IIIF 3 tiles and a full-size access JPEG of ``source`` under ``out/tiles``;
    returns info.json (with ``sizes`` added: dzsave's small full image and the access JPEG).
    In this process: call it through ``interop.tiles.render_tiles`` (the bounded child)."""
    import pyvips

    pyvips.cache_set_max(0)  # nothing kept between calls
    out.mkdir(parents=True)
    image = _display(pyvips.Image.new_from_file(str(source), access="sequential"))
    image.dzsave(
        str(out / "tiles"), layout="iiif3", tile_size=size, suffix=".jpg[Q=85]", id="tiles"
    )
    image = _display(pyvips.Image.new_from_file(str(source), access="sequential"))
    image.jpegsave(str(out / "tiles" / ACCESS_NAME), Q=90, optimize_coding=True)
    info: dict[str, Any] = json.loads((out / "tiles" / "info.json").read_text())
    (out / "tiles" / "info.json").unlink()
    sizes = []
    full = out / "tiles" / "full"
    for entry in sorted(full.iterdir()) if full.is_dir() else []:
        w, _, h = entry.name.partition(",")
        if w.isdigit() and h.isdigit():
            sizes.append({"width": int(w), "height": int(h)})
    sizes.append({"width": info["width"], "height": info["height"]})
    info["sizes"] = sizes
    return info


def _display(image: Any) -> Any:
    """8-bit sRGB (or grey) without alpha: what a JPEG tile can hold."""
    if image.hasalpha():
        image = image.flatten(background=255)
    if image.interpretation in ("grey16", "b-w") or image.bands == 1:
        image = image.colourspace("b-w")
    elif image.format != "uchar" or image.interpretation not in ("srgb",):
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _limit_memory(budget_mb: int) -> None:
    """The address space after importing libvips + the budget (as the engine workers)."""
    if budget_mb <= 0:
        return
    with open("/proc/self/statm") as fh:
        base = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = base + budget_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interop.tiler")
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--memory-mb", type=int, default=0, help="0: no limit")
    args = parser.parse_args(argv)
    import pyvips  # imported before the limit: the budget is on top of the library

    pyvips.cache_set_max(0)
    _limit_memory(args.memory_mb)
    try:
        info = render_tiles(args.source, args.out, size=args.size)
    except MemoryError as exc:
        print(f"MemoryError: {exc}", file=sys.stderr)
        return EXIT_MEMORY
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " ")
        print(text[:2000], file=sys.stderr)
        return EXIT_MEMORY if any(w in text.lower() for w in _ALLOC_WORDS) else 1
    sys.stdout.write(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
