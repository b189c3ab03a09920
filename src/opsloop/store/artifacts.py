"""Content-addressed artifact store over fsspec (a local folder by default, s3:// by URL).

Every blob is stored under its sha256 and checked against it when read back, so a file changed
behind opsloop's back is refused instead of being loaded.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import fsspec

from opsloop.domain.errors import IntegrityError, InvalidInput, NotFound

SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha256(value: str, field: str = "sha256") -> str:
    if not isinstance(value, str) or not SHA256.fullmatch(value):
        raise InvalidInput(f"{field} must be 64 lower-case hex digits", field=field)
    return value


class ArtifactStore:
    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")
        self.is_local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )
        self.fs.makedirs(self.root, exist_ok=True)

    def _path(self, sha256: str) -> str:
        return f"{self.root}/blobs/{sha256[:2]}/{sha256}"

    def put(self, data: bytes, expected_sha256: str | None = None) -> tuple[str, int]:
        """Store ``data``; return its sha256 and size. Refuse it if it is not what was promised."""
        digest = sha256_of(data)
        if expected_sha256 is not None and digest != expected_sha256:
            raise InvalidInput(
                f"upload does not match its sha256: expected {expected_sha256}, got {digest}",
                field="sha256",
            )
        path = self._path(digest)
        if self._intact(digest):
            return digest, len(data)
        # Absent, or changed behind our back: (re)write it from the bytes we were given.
        if self.is_local:
            # Write beside, then rename: a reader never sees half a blob.
            parent = path.rsplit("/", 1)[0]
            self.fs.makedirs(parent, exist_ok=True)
            partial = f"{parent}/.{digest}.{uuid.uuid4().hex}.partial"
            with self.fs.open(partial, "wb") as handle:
                handle.write(data)
            self.fs.mv(partial, path)
        else:
            self.fs.pipe_file(path, data)
        return digest, len(data)

    def get(self, sha256: str) -> bytes:
        """Read a blob back, verifying it is still what was stored."""
        check_sha256(sha256)
        path = self._path(sha256)
        try:
            data: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            raise NotFound(f"artifact {sha256} not found", field="sha256") from None
        if sha256_of(data) != sha256:
            raise IntegrityError(
                f"artifact {sha256} was modified after it was stored; refusing to use it",
                field="sha256",
            )
        return data

    def _intact(self, sha256: str) -> bool:
        try:
            self.get(sha256)
        except (NotFound, IntegrityError):
            return False
        return True

    def size(self, sha256: str) -> int:
        try:
            return int(self.fs.size(self._path(check_sha256(sha256))))
        except FileNotFoundError:
            raise NotFound(f"artifact {sha256} was not uploaded", field="sha256") from None

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self._path(check_sha256(sha256))))
