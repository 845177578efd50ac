"""Issue 16: a request's permission lookups cost one query, whatever is asked how often."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from access.actions import can_submit_jobs, can_verify
from access.visibility import can_view_restricted, has_permission

pytestmark = pytest.mark.django_db


def test_one_query_for_all_permission_checks(users, django_user_model, django_assert_num_queries):
    for role, expected in (("viewer", False), ("auditor", True), ("restorer", False)):
        user = django_user_model.objects.get(pk=users[role].pk)  # a fresh object: no cache
        with django_assert_num_queries(1):
            assert can_view_restricted(user) is expected
            assert can_view_restricted(user) is expected
            assert can_submit_jobs(user) is (role == "restorer")
            assert can_verify(user) is (role == "auditor")
    # A permission given to the user directly (not through a group) counts as well.
    plain = django_user_model.objects.get(pk=users["plain"].pk)
    plain.user_permissions.add(Permission.objects.get(codename="view_restricted"))
    plain = django_user_model.objects.get(pk=plain.pk)
    assert has_permission(plain, "archive.view_restricted")
    assert not has_permission(plain, "restoration.add_job")
    admin = django_user_model.objects.get(pk=users["admin"].pk)
    with django_assert_num_queries(0):
        assert has_permission(admin, "anything.at_all")
