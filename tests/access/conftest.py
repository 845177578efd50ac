"""The API tests' archive (public and restricted records with their lineage) and role users,
shared so that the access tests walk the same records the API tests do."""

from tests.api.conftest import _fast_throttle_cache, _no_job_enqueue, users, world  # noqa: F401
