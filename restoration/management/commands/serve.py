"""``python manage.py serve --host 127.0.0.1 --port 8000``: the whole app in one process.

Runs pending migrations, resumes jobs a crash left unfinished, starts the dramatiq worker
threads in this process when ``BROKER_URL=memory`` (they only coordinate: every operation runs
in an engine worker process, ``restoration.executor``, so a crash there cannot take the site
down) (with an external broker, ``rundramatiq``
workers run them), and serves the WSGI app and the static files with waitress, a
production-grade threaded server. The socket opens last, so ``GET /healthz`` answering 200
means the app is ready.
"""

from __future__ import annotations

import email.utils
import logging
import mimetypes
import posixpath
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Command(BaseCommand):
    help = "Serve the app with waitress (and run the job workers in-process in memory mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="HTTP worker threads")
        parser.add_argument(
            "--job-threads",
            type=int,
            default=settings.DRAMATIQ_WORKER_THREADS,
            help="in-process job worker threads (BROKER_URL=memory only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress.server import create_server

        from config.wsgi import application

        migrate_if_needed(self.stdout)
        worker = (
            start_embedded_worker(options["job_threads"]) if settings.BROKER_IS_MEMORY else None
        )
        if worker is None:
            from restoration.jobs import job_resume_stale

            job_resume_stale()  # the worker boot hook does this in memory mode
        connection.close()  # the serving threads open their own connections

        app = StaticFilesApp(application, settings.STATIC_URL, Path(settings.STATIC_ROOT))
        server = create_server(
            app,
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            ident="archive",
            **settings.WAITRESS_OPTIONS,  # connection limit, timeouts, body size (settings.py)
        )

        def stop(signum: int, frame: Any) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        mode = (
            "in-process job workers" if worker else f"jobs on {settings.BROKER_URL.split('@')[-1]}"
        )
        self.stdout.write(f"serving on http://{options['host']}:{server.effective_port}/ ({mode})")
        self.stdout.flush()
        try:
            server.run()
        finally:
            server.close()
            if worker is not None:
                # Lets running jobs finish their current work; anything cut off stays a row and
                # is resumed at the next start.
                worker.stop(timeout=10_000)
                from restoration.executor import close_pools

                close_pools()


def migrate_if_needed(stdout: Any) -> None:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        stdout.write("applying migrations")
        call_command("migrate", interactive=False, verbosity=0)


def start_embedded_worker(threads: int) -> Any:
    """dramatiq worker threads on the in-memory broker. Booting them runs the ResumeStaleJobs
    middleware, which re-enqueues every unfinished job (the previous process's queue is gone)."""
    import dramatiq

    import restoration.actors  # noqa: F401  (declares the queues on the broker)

    broker = dramatiq.get_broker()
    broker.emit_after("process_boot")  # starts the TimeLimit watchdog, as the dramatiq CLI does
    worker = dramatiq.Worker(broker, worker_threads=max(1, threads), worker_timeout=100)
    worker.start()
    # The job threads hand every operation to engine worker processes (restoration.executor):
    # start them now, in the background, so the first job finds them warm.
    from restoration.executor import default_pool

    default_pool().warm()
    return worker


class StaticFilesApp:
    """Serve ``STATIC_URL`` from ``STATIC_ROOT`` (falling back to the staticfiles finders when
    collectstatic has not run), with ETag / Last-Modified revalidation; the rest goes to Django."""

    def __init__(self, app: WSGIApp, prefix: str, root: Path) -> None:
        self.app = app
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.root = root.resolve()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") in {"GET", "HEAD"} and path.startswith(self.prefix):
            found = self.find(path[len(self.prefix) :])
            if found is not None:
                return self.serve(found, environ, start_response)
        return self.app(environ, start_response)

    def find(self, relative: str) -> Path | None:
        clean = posixpath.normpath(relative).lstrip("/")
        if not clean or clean.startswith("..") or "\x00" in clean:
            return None
        candidate = (self.root / clean).resolve()
        if candidate.is_relative_to(self.root) and candidate.is_file():
            return candidate
        from django.contrib.staticfiles import finders

        located = finders.find(clean)
        if isinstance(located, list):
            located = located[0] if located else None
        return Path(located) if located and Path(located).is_file() else None

    def serve(
        self, path: Path, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        stat = path.stat()
        etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
        headers = [
            ("ETag", etag),
            ("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True)),
            ("Cache-Control", "public, max-age=3600"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if environ.get("HTTP_IF_NONE_MATCH") == etag:
            start_response("304 Not Modified", headers)
            return []
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
            content_type += "; charset=utf-8"
        headers += [("Content-Type", content_type), ("Content-Length", str(stat.st_size))]
        start_response("200 OK", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        handle = path.open("rb")
        wrapper = environ.get("wsgi.file_wrapper")
        return (
            wrapper(handle, 256 * 1024) if wrapper else iter(lambda: handle.read(256 * 1024), b"")
        )
