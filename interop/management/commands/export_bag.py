"""manage.py export_bag PHOTO_ID DEST [--zip]: a BagIt bag of a photo's whole lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interop.bags import bag_export, bag_zip, photo_for_bag


class Command(BaseCommand):
    help = "Write a BagIt bag (SHA-256) of a photo's lineage: files, records, PROV, C2PA, proofs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("photo", type=int, help="the photo's id")
        parser.add_argument("dest", help="a directory to create (must not exist)")
        parser.add_argument("--zip", action="store_true", help="also write DEST.zip")

    def handle(self, *args: Any, **options: Any) -> None:
        photo = photo_for_bag(options["photo"], None, everything=True)
        if photo is None:
            raise CommandError(f"no photo {options['photo']}")
        dest = Path(options["dest"])
        if dest.exists():
            raise CommandError(f"{dest} already exists; name a new directory")
        bag = bag_export(photo=photo, dest=dest, everything=True, sign_checkpoint=True)
        bag.validate(processes=1)
        files = len(list(bag.payload_files()))
        self.stdout.write(
            f"bag {dest}: {files} payload files, Payload-Oxum {bag.info['Payload-Oxum']}"
        )
        if options["zip"]:
            out = bag_zip(dest, dest.with_suffix(".zip"))
            self.stdout.write(f"zipped: {out}")
