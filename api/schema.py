"""OpenAPI generation: every operation documents the error responses it can give, all in the
one error shape of ``api.errors``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

_DESCRIPTIONS = {
    "400": "Invalid input; `fields` maps each bad field to its messages.",
    "401": "Not authenticated: send `Authorization: Token <key>` (or log in for a session).",
    "403": "Authenticated, but your role does not allow this.",
    "404": "No such record, or it is restricted and you may not see it.",
    "409": "Conflicts with the archive's state (a duplicate file, a record still referenced, "
    "a job that can no longer change).",
    "413": "The upload is larger than the limit.",
    "422": "Well-formed but not possible on this installation (e.g. model weights missing).",
    "429": "Too many job submissions; retry after the `Retry-After` seconds.",
}


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="the HTTP status code, repeated")
    code = serializers.CharField(
        help_text="a stable machine-readable code, e.g. `invalid`, `not_found`"
    )
    message = serializers.CharField(help_text="what went wrong, in words a person can act on")
    # A declared field: the serializer metaclass pops it off the class (the stubs
    # see it override the attribute of the same name).
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="field (nested: `steps[0].params.strength`) -> messages; empty if not about fields",
    )


class ArchiveAutoSchema(AutoSchema):
    def _resolve_path_parameters(self, variables: Any) -> list[dict[str, Any]]:
        # Routes accept any segment so that a bad id is a JSON 404 (see api.base), but the
        # contract is a positive integer id and an operation name.
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] == "id":
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
                parameter.setdefault("description", "the record's id")
            elif parameter["name"] == "name":
                parameter["schema"] = {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"}
                parameter["description"] = "an operation name, e.g. denoise"
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]),
                    code,
                    direction=direction,
                )
        return responses

    def _error_codes(self) -> list[str]:
        view = self.view
        # Any request can be bad input (even a query string with a NUL character).
        codes = ["400", "401", "403", "404"]
        method = self.method.upper()
        # Keyed by the viewset action, or by the method for a plain APIView ("get").
        action = getattr(view, "action", None) or self.method.lower()
        codes.extend(getattr(view, "extra_error_codes", {}).get(action, ()))
        if method == "DELETE":
            codes.append("409")
        return sorted(set(codes))


def only_v1(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[Any]:
    """The API is mounted at /api/v1/ and, as a convenience alias, /api/: describe it once."""
    return [e for e in endpoints if e[0].startswith("/api/v1/")]
