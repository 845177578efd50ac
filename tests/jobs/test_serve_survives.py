"""A real ``manage.py serve`` (embedded mode: SQLite, in-process broker) is attacked with the
inputs that used to take it down; ``/healthz`` is polled every 0.2 s throughout and must answer
200 every time, and each attack ends as a failed job or a 4xx with its reason."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    token: str
    proc: subprocess.Popen
    health: list[int] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(f"{self.url}{path}", headers=self.headers(), timeout=300, **kwargs)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=self.headers(), timeout=60)

    def upload(self, data: bytes, name: str, title: str = "") -> requests.Response:
        return self.post(
            "/api/v1/photos/", files={"image": (name, data)}, data={"title": title or name}
        )

    def job(self, artifact: int, steps: list[dict]) -> requests.Response:
        return self.post("/api/v1/jobs/", json={"input": artifact, "steps": steps})

    def wait(self, job_id: int, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/jobs/{job_id}/").json()
            if job["status"] in {"succeeded", "failed", "cancelled"}:
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not end within {timeout} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the embedded serve test runs in the SQLite pass")
    data = tmp_path_factory.mktemp("serve")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "BROKER_URL"}},
        "ARCHIVE_DATA_DIR": str(data),
        "ARCHIVE_STORAGE_DIR": str(data / "storage"),
        "ARCHIVE_ENGINE_TEST_OPS": "1",
        "ARCHIVE_WORKER_MEMORY_MB": "1024",
        "ARCHIVE_DECODE_MEMORY_MB": "1024",
        "ARCHIVE_JOB_SUBMIT_RATE": "1000/min",
        "LOG_LEVEL": "WARNING",
    }
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = (
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        "u = get_user_model().objects.create_superuser('attacker', 'a@example.org', 'pw');"
        "print(Token.objects.create(user=u).key)"
    )
    out = subprocess.run(
        [py, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = out.stdout.strip().splitlines()[-1]
    port = _free_port()
    log = open(data / "serve.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [py, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    srv = Server(url=f"http://127.0.0.1:{port}", token=token, proc=proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{srv.url}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        raise AssertionError((data / "serve.log").read_text()[-3000:])
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                srv.health.append(requests.get(f"{srv.url}/healthz", timeout=10).status_code)
            except requests.RequestException:
                srv.health.append(0)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    yield srv
    stop.set()
    poller.join(15)
    proc.terminate()
    proc.wait(30)
    log.close()


def _healthy(server: Server) -> None:
    assert server.proc.poll() is None, "the server process died"
    assert server.health and set(server.health) == {200}, server.health[-20:]


def test_a_200000_by_1_scan_and_crashing_steps_leave_the_site_answering(server):
    line = np.random.default_rng(3).integers(0, 255, (1, 200_000), dtype=np.uint8)
    uploaded = server.upload(_png(line), "line.png")
    assert uploaded.status_code == 201, uploaded.text
    master = uploaded.json()["master_artifact"]
    descratch = server.wait(server.job(master, [{"op": "descratch"}]).json()["id"])
    assert descratch["status"] == "succeeded", descratch["error"]
    crash = server.wait(server.job(master, [{"op": "test_crash"}]).json()["id"])
    assert crash["status"] == "failed"
    assert "the operation crashed (signal 11, SIGSEGV)" in crash["error"]
    hog = server.job(master, [{"op": "test_allocate", "params": {"mb": 8192}}]).json()
    hog = server.wait(hog["id"])
    assert hog["status"] == "failed" and "exceeded its 1024 MiB memory budget" in hog["error"]
    again = server.wait(server.job(master, [{"op": "grayscale"}]).json()["id"])
    assert again["status"] == "succeeded"  # a fresh engine worker took over
    _healthy(server)


def test_an_x8_upscale_of_a_2500_pixel_scan_is_refused_before_it_runs(server):
    scan = np.zeros((2500, 2500, 3), np.uint8)
    scan[::7] = 200
    uploaded = server.upload(_png(scan), "scan2500.png")
    assert uploaded.status_code == 201, uploaded.text
    refused = server.job(
        uploaded.json()["master_artifact"], [{"op": "upscale", "params": {"scale": 8}}]
    )
    assert refused.status_code == 400
    assert "memory budget of 1,024 MiB" in refused.text and "steps[0]" in refused.text
    _healthy(server)


def test_decompression_bombs_are_refused_before_decoding(server):
    zeros = _png(np.zeros((14142, 14142, 3), np.uint8))
    target = server.upload(_png(np.full((64, 64, 3), 90, np.uint8)), "small.png").json()
    manual = server.post(
        "/api/v1/steps/manual/",
        data={"input": target["master_artifact"], "rationale": "retouched by hand"},
        files={"image": ("retouched.png", zeros)},
    )
    assert manual.status_code == 413, manual.text
    assert "decode budget" in manual.text
    buf = io.BytesIO()
    Image.new("RGBA", (16383, 16383), (0, 0, 0, 0)).save(buf, format="WEBP", lossless=True)
    bomb = buf.getvalue()
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda i: server.upload(bomb, f"bomb{i}.webp", f"bomb {i}"), range(2))
        )
    assert [a.status_code for a in answers] == [413, 413], [a.text for a in answers]
    _healthy(server)


def test_twenty_parallel_uploads_of_the_same_bytes_give_one_photo(server):
    data = _png(np.random.default_rng(11).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    with ThreadPoolExecutor(20) as pool:
        codes = sorted(
            pool.map(lambda i: server.upload(data, "same.png", f"same {i}").status_code, range(20))
        )
    assert codes == [201] + [409] * 19
    _healthy(server)
