"""Production settings: ``check --deploy`` is clean under the documented variables, failed
logins are limited, the job throttle holds across processes (a shared cache), and waitress
runs with its connection limit, timeouts and body limit."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "archive.example.org",
    "ARCHIVE_HTTPS": "1",
}


def run_python(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVE_", "DJANGO_"))}
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CACHE_URL", "DATABASE_URL", "BROKER_URL"):
        clean.pop(name, None)
    full = {**clean, "ARCHIVE_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**full, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


# --- check --deploy -----------------------------------------------------------------------


def test_check_deploy_is_clean_with_the_documented_variables(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_tls(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, "ARCHIVE_HTTPS": "0"},
        tmp_path,
    )
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_production_refuses_the_development_secret(tmp_path):
    env = {**PRODUCTION}
    del env["SECRET_KEY"]
    result = run_python(["manage.py", "check"], env, tmp_path)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


# --- failed logins ------------------------------------------------------------------------


@pytest.fixture
def member(django_user_model, settings, tmp_path):
    settings.ARCHIVE_LOGIN_MAX_FAILURES = 3
    settings.ARCHIVE_LOGIN_WINDOW_S = 900
    # A cache of this test's own: other test processes may clear the shared one.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    return django_user_model.objects.create_user(
        username=f"member-{uuid.uuid4().hex[:8]}", password="pw-member-1"
    )


def login(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.django_db
def test_failed_logins_lock_out_the_name_from_that_address(client, member):
    for _ in range(3):
        assert login(client, member.username, "wrong").status_code == 200
    locked = login(client, member.username, "pw-member-1")  # even the right password
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # The admin's login goes through the same backend: refused too.
    admin = client.post(
        "/admin/login/",
        {"username": member.username, "password": "pw-member-1"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert "_auth_user_id" not in client.session and admin.status_code == 200
    # Another address is not locked out; a success clears its count.
    assert login(client, member.username, "pw-member-1", "198.51.100.9").status_code == 302


@pytest.mark.django_db
def test_a_success_clears_the_failure_count(client, member):
    for _ in range(2):
        login(client, member.username, "wrong")
    assert login(client, member.username, "pw-member-1").status_code == 302
    client.logout()
    for _ in range(2):
        assert login(client, member.username, "wrong").status_code == 200
    assert login(client, member.username, "pw-member-1").status_code == 302


@pytest.mark.django_db
def test_the_lock_ends_with_the_window(client, member, settings):
    import time

    settings.ARCHIVE_LOGIN_WINDOW_S = 1
    for _ in range(3):
        login(client, member.username, "wrong")
    assert login(client, member.username, "pw-member-1").status_code == 429
    time.sleep(1.2)
    assert login(client, member.username, "pw-member-1").status_code == 302


# --- the shared cache ---------------------------------------------------------------------


def test_the_cache_is_shared_between_processes():
    backend = settings.CACHES["default"]["BACKEND"]
    assert "locmem" not in backend.lower()
    assert backend.endswith(("FileBasedCache", "RedisCache"))


THROTTLE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from api.throttling import JobSubmitThrottle

    class User:
        is_authenticated = True
        pk = int(sys.argv[1])

    class Request:
        user = User()
        META = {"REMOTE_ADDR": "127.0.0.1"}

    print(json.dumps([JobSubmitThrottle().allow_request(Request(), None) for _ in range(int(sys.argv[2]))]))
    """
)


def _throttle_in_two_processes(tmp_path: Path, env: dict[str, str]) -> tuple[list, list]:
    user = str(uuid.uuid4().int % 10**12 + 10**6)  # a fresh throttle key on a shared Redis
    env = {"ARCHIVE_JOB_SUBMIT_RATE": "3/min", **env}
    script = tmp_path / "throttle.py"
    script.write_text(THROTTLE_SCRIPT)
    runs = []
    for count in ("2", "2"):
        result = run_python([str(script), user, count], env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return runs[0], runs[1]


def test_the_job_throttle_holds_across_processes_embedded(tmp_path):
    first, second = _throttle_in_two_processes(tmp_path, {})
    assert first == [True, True] and second == [True, False]
    assert (tmp_path / "cache").is_dir()


def test_the_job_throttle_holds_across_processes_on_redis(tmp_path):
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    first, second = _throttle_in_two_processes(tmp_path, {"CACHE_URL": "redis://127.0.0.1:6379/14"})
    assert first == [True, True] and second == [True, False]
    assert not (tmp_path / "cache").exists()


def test_an_unknown_cache_url_is_refused(tmp_path):
    result = run_python(["manage.py", "check"], {"CACHE_URL": "locmem://"}, tmp_path)
    assert result.returncode != 0 and "CACHE_URL" in result.stderr


# --- waitress -----------------------------------------------------------------------------


def test_waitress_options_are_valid_and_driven_by_the_environment(tmp_path):
    from waitress.adjustments import Adjustments

    adj = Adjustments(**settings.WAITRESS_OPTIONS)
    assert adj.connection_limit == 100 and adj.channel_timeout == 120
    assert adj.max_request_body_size >= settings.ARCHIVE_MAX_UPLOAD_BYTES
    env = {
        "ARCHIVE_CONNECTION_LIMIT": "7",
        "ARCHIVE_CHANNEL_TIMEOUT_S": "9",
        "ARCHIVE_CLEANUP_INTERVAL_S": "3",
        "ARCHIVE_MAX_UPLOAD_MB": "5",
        "ARCHIVE_TRUSTED_PROXY": "127.0.0.1",
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "o = settings.WAITRESS_OPTIONS; "
        "print(json.dumps({k: sorted(v) if isinstance(v, set) else v for k, v in o.items()}))"
    )
    result = run_python(["-c", code], env, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    options = json.loads(result.stdout.strip().splitlines()[-1])
    assert options["connection_limit"] == 7 and options["channel_timeout"] == 9
    assert options["cleanup_interval"] == 3
    assert options["max_request_body_size"] == 5 * 2**20 + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert options["trusted_proxy"] == "127.0.0.1"
    Adjustments(**{**options, "trusted_proxy_headers": set(options["trusted_proxy_headers"])})


@pytest.mark.django_db
def test_serve_passes_the_options_to_waitress(monkeypatch):
    from django.core.management import call_command

    from restoration.management.commands import serve

    seen: dict = {}

    class Started(Exception):
        pass

    def fake_create_server(app, **kwargs):
        seen.update(kwargs)
        raise Started

    monkeypatch.setattr("waitress.server.create_server", fake_create_server)
    monkeypatch.setattr(serve, "migrate_if_needed", lambda stdout: None)
    monkeypatch.setattr(serve, "start_embedded_worker", lambda threads: None)
    monkeypatch.setattr(serve.connection, "close", lambda: None)
    with pytest.raises(Started):
        call_command("serve", "--port", "0")
    for name, value in settings.WAITRESS_OPTIONS.items():
        assert seen[name] == value
