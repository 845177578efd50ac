"""One home for access policy: who may see what (``access.visibility``) and who may do what
(``access.actions``). The API, the pages, the exports and the job code all ask here; none of
them decides for itself, so a page and the API cannot drift apart (tests/access/test_parity.py).

Layer: above the lineage core and the catalogue models it reads, below ``api`` and ``web``
(an import-linter contract keeps it from importing them)."""
