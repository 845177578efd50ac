"""Evidence and the transparency log (issue 11): revisions of catalogue records, a step's
evidence as it was used, signed checkpoints, inclusion and consistency proofs.

Visibility is asked of ``access.visibility`` (a hidden record is a 404; hidden evidence and
hidden links inside a revision are withheld), never decided here."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access import visibility
from api.base import ApiViewMixin
from archive.evidence import evidence_status
from archive.models import Revision
from archive.revisions import RECORD_TYPES, revision_dict, revisions_of
from restoration import ledger
from restoration.models import AuditRun, Checkpoint, Step

# The API's path segment of each record type.
ROUTES = {
    "figures": "figure",
    "photos": "photo",
    "sources": "source",
    "citations": "citation",
    "references": "reference",
    "notes": "note",
    "films": "film",
}


class NotCheckpointed(exceptions.APIException):
    """The record is in the log, but no signed checkpoint covers it yet: a conflict with the
    log's state (it passes after the next job, or ``manage.py checkpoint make``), not a 404,
    which means "hidden or missing" everywhere else."""

    status_code = 409
    default_code = "not_checkpointed"
    default_detail = (
        "no signed checkpoint covers this record yet: one is signed after each job, or run "
        "`manage.py checkpoint make`"
    )


def _proof_or_409(kind: str, record_id: int) -> dict[str, Any]:
    proof = ledger.record_proof(kind, record_id)
    if proof is not None:
        return proof
    if ledger.leaf_of(kind, record_id) is None:
        raise exceptions.NotFound(
            f"this {kind} is not in the transparency log (it predates the log)",
            code="not_logged",
        )
    raise NotCheckpointed()


class _Base(ApiViewMixin, APIView):
    def _visible_step(self, pk: int) -> Step:
        step = visibility.visible_steps(Step.objects.filter(pk=pk), self.request.user).first()
        if step is None:
            raise exceptions.NotFound("no such step")
        return step


class RevisionsView(_Base):
    """The revisions of one catalogue record, oldest first: who, when, before, after, what
    changed, and the revision's hash (logged in the transparency log)."""

    kind = ""

    @extend_schema(summary="Revisions of a catalogue record", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        model: type[Model] = RECORD_TYPES[self.kind]
        if not visibility.record_visible(model, pk, request.user):
            raise exceptions.NotFound(f"no such {self.kind}")
        out = []
        for revision in revisions_of(self.kind, pk):
            data = revision_dict(revision)
            data["before"] = visibility.redact_state(data["before"], request.user)
            data["after"] = visibility.redact_state(data["after"], request.user)
            data["changed"] = sorted(
                k
                for k in set(data["before"] or {}) | set(data["after"] or {})
                if (data["before"] or {}).get(k) != (data["after"] or {}).get(k)
            )
            out.append(data)
        return Response({"record_type": self.kind, "record_id": int(pk), "revisions": out})


def revisions_view(kind: str) -> Any:
    return RevisionsView.as_view(kind=kind)


class StepEvidenceView(_Base):
    """What a step relied on, as it was when the step used it (the snapshots in its hashed
    record), each with ``revised`` when the catalogue record changed since."""

    @extend_schema(summary="A step's evidence as used", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        step = self._visible_step(pk)
        from restoration.evidence import localized

        status = evidence_status(localized({step.pk: step.evidence or {}})[step.pk])
        return Response(
            {
                "step": step.pk,
                "record_version": step.record_version,
                "evidence": visibility.evidence_for(status, request.user),
            }
        )


class StepProofView(_Base):
    """An inclusion proof of the step's record in the transparency log, against the latest
    signed checkpoint that covers it (RFC 9162 audit path, hex hashes)."""

    extra_error_codes = {"get": ("409",)}  # not_checkpointed

    @extend_schema(summary="Inclusion proof of a step", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        step = self._visible_step(pk)
        return Response(_proof_or_409("step", step.pk))


class RevisionProofView(_Base):
    """An inclusion proof of a catalogue revision's record (seen with its record), against the
    latest signed checkpoint that covers it; 409 ``not_checkpointed`` until one does."""

    extra_error_codes = {"get": ("409",)}  # not_checkpointed

    @extend_schema(summary="Inclusion proof of a revision", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        revision = Revision.objects.filter(pk=pk).first()
        if revision is None or not visibility.revision_visible(
            revision.record_type, revision.record_id, request.user
        ):
            raise exceptions.NotFound("no such revision")
        return Response(_proof_or_409("revision", revision.pk))


class AuditProofView(_Base):
    """An inclusion proof of a verify run's record (a run of one artifact's lineage is seen
    with that artifact; a run over the whole archive by those who see restricted records)."""

    extra_error_codes = {"get": ("409",)}  # not_checkpointed

    @extend_schema(summary="Inclusion proof of an audit run", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        run = visibility.visible_audit_runs(AuditRun.objects.filter(pk=pk), request.user).first()
        if run is None:
            raise exceptions.NotFound("no such audit run")
        return Response(_proof_or_409("audit", run.pk))


class LatestCheckpointView(_Base):
    """The last signed checkpoint: ``tree_size``, ``root`` (hex), ``signed_at``, ``origin``,
    ``public_key`` and ``signature`` (base64; Ed25519 over ``checkpoint_body``)."""

    @extend_schema(summary="The latest signed checkpoint", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        checkpoint = Checkpoint.objects.first()
        if checkpoint is None:
            raise exceptions.NotFound("no checkpoint has been signed yet", code="no_checkpoint")
        data = ledger.checkpoint_dict(checkpoint)
        data["body"] = ledger.checkpoint_body(
            checkpoint.origin, checkpoint.tree_size, checkpoint.root, data["signed_at"]
        ).decode()
        return Response(data)


class ConsistencyView(_Base):
    """A consistency proof between two tree sizes (``from`` <= ``to`` <= the log's size)."""

    @extend_schema(
        summary="Consistency proof between two checkpoints",
        parameters=[
            OpenApiParameter("from", int, required=True),
            OpenApiParameter("to", int, required=False),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        try:
            old = int(request.query_params.get("from", ""))
            new = int(request.query_params.get("to") or ledger.log_size())
        except ValueError:
            raise exceptions.ValidationError({"from": ["a tree size (an integer)"]}) from None
        size = ledger.log_size()
        if not 0 < old <= new <= size:
            raise exceptions.ValidationError(
                {"from": [f"need 0 < from <= to <= {size} (the log's size), got {old}, {new}"]}
            )
        _, old_root = ledger.log_root(old)
        _, new_root = ledger.log_root(new)
        return Response(
            {
                "from": old,
                "to": new,
                "from_root": old_root.hex(),
                "to_root": new_root.hex(),
                "proof": ledger.consistency_proof(old, new),
            }
        )


class ProvContextView(_Base):
    """The PROV-JSON-LD context, served by the archive (the exports refer to it here)."""

    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @extend_schema(
        summary="PROV-JSON-LD context",
        responses={(200, "application/ld+json"): OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        from restoration.exports.prov import jsonld_context

        response = Response(jsonld_context(), content_type="application/ld+json")
        response["Cache-Control"] = "public, max-age=86400"
        return response


def lineage_bundle(graph: Any, user: Any, since: int | None = None) -> dict[str, Any]:
    """The lineage JSON export with the latest checkpoint and every step's inclusion proof
    (for ``scripts/check_lineage.py``); with ``since``, a consistency proof from that size."""
    from restoration.exports.lineage_json import lineage_export

    checkpoint = Checkpoint.objects.first()
    if checkpoint is None:  # a read never signs: a checkpoint comes after a job or on demand
        raise NotCheckpointed(
            "no signed checkpoint exists yet: one is signed after each job, or run "
            "`manage.py checkpoint make`"
        )

    def withhold(step: Step) -> bool:
        shown = visibility.evidence_for(step.evidence or {}, user)
        return any(item.get("withheld") for items in shown.values() for item in items)

    data = lineage_export(graph=graph, checkpoint=checkpoint, withhold=withhold)
    if since is not None and 0 < since <= checkpoint.tree_size:
        data["consistency"] = ledger.consistency_proof(since, checkpoint.tree_size)
        data["consistency_from"] = since
    return data


class ArtifactBundleView(_Base):
    """An artifact's lineage with the latest signed checkpoint and an inclusion proof for each
    step: what ``scripts/check_lineage.py`` checks with the public key and no database.
    ``?since=N`` adds a consistency proof from an earlier (published) checkpoint of size N."""

    extra_error_codes = {"get": ("409",)}  # not_checkpointed

    @extend_schema(
        summary="Lineage with log proofs (for the stand-alone checker)",
        parameters=[OpenApiParameter("since", int, required=False)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int) -> Response:
        graph = visibility.visible_lineage(int(pk), request.user)
        if graph is None:
            raise exceptions.NotFound()
        since = request.query_params.get("since")
        try:
            since_n = int(since) if since else None
        except ValueError:
            raise exceptions.ValidationError({"since": ["a tree size (an integer)"]}) from None
        return Response(lineage_bundle(graph, request.user, since_n))
