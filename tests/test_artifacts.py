"""The content-addressed artifact store on a local folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opsloop.domain.errors import IntegrityError, InvalidInput, NotFound
from opsloop.store.artifacts import ArtifactStore

PAYLOADS = [
    pytest.param(b"", id="empty"),
    pytest.param(b"x", id="one-byte"),
    pytest.param(bytes(range(256)) * 64, id="all-byte-values"),
    pytest.param(b"\x00" * (3 * 1024 * 1024 + 7), id="3MiB"),
]


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


def blob_file(store: ArtifactStore, sha256: str) -> Path:
    return Path(store.root) / "blobs" / sha256[:2] / sha256


def stored_files(store: ArtifactStore) -> list[Path]:
    return sorted(p for p in (Path(store.root) / "blobs").rglob("*") if p.is_file())


@pytest.mark.parametrize("data", PAYLOADS)
def test_put_then_get_returns_the_same_bytes(store: ArtifactStore, data: bytes) -> None:
    sha256, size = store.put(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.get(sha256) == data
    assert store.size(sha256) == len(data)
    assert store.exists(sha256)


def test_blobs_are_named_by_their_sha256(store: ArtifactStore) -> None:
    sha256, _ = store.put(b"model weights")
    assert stored_files(store) == [blob_file(store, sha256)]
    assert blob_file(store, sha256).read_bytes() == b"model weights"


def test_a_new_store_opens_over_existing_blobs(store: ArtifactStore, tmp_path: Path) -> None:
    sha256, _ = store.put(b"kept")
    assert ArtifactStore(str(tmp_path / "artifacts")).get(sha256) == b"kept"


def test_putting_the_same_bytes_twice_stores_one_blob(store: ArtifactStore) -> None:
    first = store.put(b"same")
    second = store.put(b"same", expected_sha256=first[0])
    assert first == second
    assert len(stored_files(store)) == 1  # and no half-written leftovers beside it


@pytest.mark.parametrize(
    "expected",
    [hashlib.sha256(b"something else").hexdigest(), "0" * 64, "not-a-sha"],
)
def test_an_upload_that_does_not_match_its_sha256_is_refused(
    store: ArtifactStore, expected: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        store.put(b"payload", expected_sha256=expected)
    assert caught.value.field == "sha256"
    assert not store.exists(hashlib.sha256(b"payload").hexdigest())
    assert stored_files(store) == []


@pytest.mark.parametrize(
    "tampered",
    [b"evil model", b"", b"model weight"],
    ids=["replaced", "emptied", "truncated"],
)
def test_a_blob_changed_on_disk_is_refused(store: ArtifactStore, tampered: bytes) -> None:
    sha256, _ = store.put(b"model weights")
    blob_file(store, sha256).write_bytes(tampered)
    with pytest.raises(IntegrityError) as caught:
        store.get(sha256)
    assert caught.value.field == "sha256"


def test_uploading_the_genuine_bytes_again_repairs_a_tampered_blob(store: ArtifactStore) -> None:
    sha256, _ = store.put(b"model weights")
    blob_file(store, sha256).write_bytes(b"evil model")
    store.put(b"model weights", expected_sha256=sha256)
    assert store.get(sha256) == b"model weights"


def test_a_missing_blob_is_not_found(store: ArtifactStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(absent)
    with pytest.raises(NotFound) as caught:
        store.get(absent)
    assert caught.value.field == "sha256"
    with pytest.raises(NotFound) as caught:
        store.size(absent)
    assert caught.value.field == "sha256"


MALFORMED = [
    "",
    "abc",
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "g" * 64,
    "../" + "a" * 61,
    "a" * 64 + "\n",
    " " + "a" * 64,
]


@pytest.mark.parametrize("sha256", MALFORMED)
@pytest.mark.parametrize("method", ["get", "size", "exists"])
def test_a_malformed_sha256_is_invalid(store: ArtifactStore, sha256: str, method: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        getattr(store, method)(sha256)
    assert caught.value.field == "sha256"
