"""Exports of an artifact's lineage: plain JSON (for outside auditors), W3C PROV, C2PA."""
