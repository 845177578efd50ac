"""Compile ``locale/*/LC_MESSAGES/django.po`` to ``.mo`` without GNU gettext.

CI machines may lack ``msgfmt``; the compiled ``.mo`` is committed, and this small compiler
(after CPython's Tools/i18n/msgfmt.py) rebuilds it: ``python -m web.i18n``. A test checks that
the committed ``.mo`` matches the ``.po``.
"""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path
from typing import IO

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def po_path(language: str = "zh_Hans") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def parse_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr (plurals as NUL-joined strings, contexts as ``ctx\\x04id``); fuzzy
    and untranslated entries are skipped, as msgfmt does."""
    messages: dict[str, str] = {}
    entry: dict[str, str] = {}
    section: str | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal entry, fuzzy
        if "msgid" in entry:
            key = entry["msgid"]
            if "msgid_plural" in entry:
                key += "\0" + entry["msgid_plural"]
                plurals = sorted(k for k in entry if k.startswith("msgstr["))
                value = "\0".join(entry[k] for k in plurals)
            else:
                value = entry.get("msgstr", "")
            if "msgctxt" in entry:
                key = entry["msgctxt"] + "\x04" + key
            if (value.strip("\0") and not fuzzy) or key == "":
                messages[key] = value
        entry, fuzzy = {}, False

    def complete() -> bool:
        return any(k.startswith("msgstr") for k in entry)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#,") and "fuzzy" in line:
            if complete():  # the flag belongs to the entry that follows
                flush()
            fuzzy = True
            continue
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and complete():
            flush()
        if keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr") or keyword.startswith(
            "msgstr["
        ):
            section = keyword
            entry[section] = ast.literal_eval(rest)
        elif line.startswith('"') and section is not None:
            entry[section] += ast.literal_eval(line)
    flush()
    return messages


def compile_messages(messages: dict[str, str]) -> bytes:
    """GNU .mo bytes (little endian, no hash table), keys sorted as msgfmt sorts them."""
    keys = sorted(messages)
    ids = b""
    strs = b""
    offsets = []
    for key in keys:
        kid, kstr = key.encode("utf-8"), messages[key].encode("utf-8")
        offsets.append((len(ids), len(kid), len(strs), len(kstr)))
        ids += kid + b"\0"
        strs += kstr + b"\0"
    count = len(keys)
    key_start = 7 * 4 + 16 * count
    value_start = key_start + len(ids)
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + key_start]
        voffsets += [l2, o2 + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    return (
        header
        + struct.pack(f"{len(koffsets)}i", *koffsets)
        + struct.pack(f"{len(voffsets)}i", *voffsets)
        + ids
        + strs
    )


def compile_po(path: Path) -> bytes:
    return compile_messages(parse_po(path))


def read_mo(source: Path | IO[bytes]) -> dict[str, str]:
    """The catalogue of a .mo file, to compare two compilations."""
    import gettext

    if isinstance(source, Path):
        with source.open("rb") as fh:
            translations = gettext.GNUTranslations(fh)
    else:
        translations = gettext.GNUTranslations(source)
    return dict(translations._catalog)  # type: ignore[attr-defined]


def main() -> int:
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        po.with_suffix(".mo").write_bytes(compile_po(po))
        print(f"compiled {po.relative_to(LOCALE_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
