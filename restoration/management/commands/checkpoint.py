"""python manage.py checkpoint make | export [--out FILE] | verify [--checkpoint FILE] | show
                          | bundle ARTIFACT [--out FILE]

- ``make``: sign the transparency log as it is now (Ed25519; the key is made on first use in
  ``$ARCHIVE_DATA_DIR/keys/``, or read from ``$ARCHIVE_CHECKPOINT_KEY``).
- ``export``: make one if the log grew, and write it with the public key and the list of
  leaves (kind, id, record hash) to ``$ARCHIVE_DATA_DIR/checkpoints/latest.json`` (what
  ``verify --all`` checks against) and to ``--out`` if given: publish that file elsewhere.
- ``verify``: check the database against a published checkpoint (default: the last exported
  one): signature, root, every logged record. Exit status 1 when anything is wrong.
- ``show``: the latest checkpoint as JSON.
- ``bundle ARTIFACT``: the artifact's lineage with the latest checkpoint and each step's
  inclusion proof, for ``scripts/check_lineage.py`` (stdout, or ``--out``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from restoration import ledger
from restoration.models import Checkpoint


class Command(BaseCommand):
    help = "Sign, export and verify checkpoints of the transparency log."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["make", "export", "verify", "show", "bundle"])
        parser.add_argument("artifact", nargs="?", type=int, help="bundle: the artifact id")
        parser.add_argument("--out", type=Path, help="export: also write the checkpoint here")
        parser.add_argument(
            "--checkpoint", type=Path, help="verify: the published checkpoint file to check"
        )
        parser.add_argument(
            "--no-leaves", action="store_true", help="export: leave out the list of leaves"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "make":
            cp = ledger.checkpoint_make(reason="manage.py checkpoint make")
            self.stdout.write(f"checkpoint: {cp.tree_size} records, root {cp.root}")
        elif action == "bundle":
            from restoration.exports.lineage_json import lineage_export
            from restoration.selectors import lineage_ancestors

            if options["artifact"] is None:
                raise CommandError("bundle needs an artifact id")
            cp = ledger.checkpoint_make(reason="manage.py checkpoint bundle")
            data = lineage_export(
                graph=lineage_ancestors(artifact_id=options["artifact"]), checkpoint=cp
            )
            text = json.dumps(data, indent=1, ensure_ascii=False)
            if options["out"]:
                options["out"].write_text(text, encoding="utf-8")
            else:
                self.stdout.write(text)
        elif action == "show":
            latest = Checkpoint.objects.first()
            if latest is None:
                raise CommandError("no checkpoint yet: run `manage.py checkpoint make`")
            self.stdout.write(json.dumps(ledger.checkpoint_dict(latest), indent=1))
        elif action == "export":
            cp = ledger.checkpoint_make(reason="manage.py checkpoint export")
            data = ledger.checkpoint_export(cp, with_leaves=not options["no_leaves"])
            written = [ledger.checkpoint_write(data)]
            if options["out"]:
                written.append(ledger.checkpoint_write(data, options["out"]))
            for path in written:
                self.stdout.write(f"exported checkpoint {cp.tree_size} ({cp.root}) to {path}")
        else:
            published = ledger.checkpoint_read(options["checkpoint"])
            if published is None:
                raise CommandError(
                    "no published checkpoint: run `manage.py checkpoint export` first, "
                    "or pass --checkpoint FILE"
                )
            problems = ledger.log_check(published)
            for problem in problems:
                self.stdout.write(f"{problem.kind}: {problem.message}")
            if problems:
                raise CommandError(f"{len(problems)} problem(s) against the published checkpoint")
            self.stdout.write(
                f"ok: the log extends the published checkpoint of {published['tree_size']} "
                "records and every logged record is unchanged"
            )
