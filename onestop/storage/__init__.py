"""Content-addressed blob storage: the ``Storage`` interface and the local-folder implementation.

Documents are stored under the SHA-256 of their bytes, never under a name a user chose
(OWASP ASVS 5.0 V5.3.2: server-generated paths). The local implementation writes to a temporary
file in the target folder, fsyncs it, renames it into place and fsyncs the folder, so that once
:meth:`Storage.put` returns the bytes survive a crash or a power cut; callers write the blob
first and commit the database row that references it afterwards (docs/security.md decision 6). A
row rolled back after its blob was written leaves an orphan blob: harmless, because nothing
refers to it and the same content uploaded again lands on the same path.

Plugging in S3-compatible object storage (MinIO, Ceph RGW, a cloud bucket): implement the four
methods of :class:`Storage` in a class ``S3Storage(bucket, prefix, client)``:

* ``put``: compute the SHA-256 locally, ``HeadObject`` on ``<prefix>/ab/cd/<sha256>`` and return
  if present, else ``PutObject`` with ``ChecksumSHA256`` (or ``Content-MD5``) so the server
  rejects a corrupted transfer; a successful ``PutObject`` is durable, which stands in for the
  fsync and rename of the local implementation;
* ``get``: ``GetObject``, then verify the SHA-256 exactly as :class:`LocalStorage` does;
* ``exists``: ``HeadObject``; ``delete``: ``DeleteObject``;

and return it from :func:`storage_for` when a setting such as ``STORAGE_URL=s3://bucket/prefix``
is present. Nothing else changes: the database stores only the hash, and every caller goes
through the interface.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flask import Flask, current_app

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class StorageError(RuntimeError):
    """The store could not write or read a blob (disk full, permissions, missing folder)."""


class BlobMissing(StorageError):
    """No blob is stored under this hash."""


class BlobCorrupted(StorageError):
    """The stored bytes no longer hash to their name; they are never served."""


@dataclass(frozen=True)
class StoredBlob:
    """A blob as the store holds it: its SHA-256 (lower-case hex) and its size in bytes."""

    sha256: str
    size: int


class Storage(Protocol):
    """Put, get, test and delete blobs by content hash."""

    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` durably under its SHA-256; idempotent for identical bytes."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, verified; ``BlobMissing`` / ``BlobCorrupted``."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored under ``sha256``."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the blob (for garbage collection of unreferenced blobs); no error if absent."""
        ...


def check_hash(sha256: str) -> str:
    """``sha256`` if it is 64 lower-case hex digits; anything else could escape the folder."""
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def relative_path(sha256: str) -> str:
    """``ab/cd/<sha256>``: two levels of 256 folders keep each folder small."""
    check_hash(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _fsync_dir(path: Path) -> None:
    # A rename or a new entry is durable only once the folder holding it is fsynced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class LocalStorage:
    """Blobs in a local folder, at ``<root>/ab/cd/<sha256>``, written crash-safely."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        return self.root / relative_path(sha256)

    def _ensure_dir(self, folder: Path) -> None:
        # Create each missing level and fsync its parent, so the new entry survives a crash.
        missing = []
        probe = folder
        while not probe.is_dir():
            missing.append(probe)
            probe = probe.parent
        for level in reversed(missing):
            level.mkdir(mode=0o750)
            _fsync_dir(level.parent)

    def put(self, data: bytes) -> StoredBlob:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path_of(sha)
        blob = StoredBlob(sha, len(data))
        try:
            if target.is_file() and _hash_of(target) == sha:
                return blob  # same content already stored (content addressing)
            self._ensure_dir(target.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o640)
                os.replace(tmp, target)  # atomic: readers see the old state or the whole file
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot store blob {sha}: {exc.strerror or exc}") from exc
        return blob

    def get(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"no blob {sha256}") from None
        except OSError as exc:
            raise StorageError(f"cannot read blob {sha256}: {exc.strerror or exc}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobCorrupted(f"blob {sha256} does not match its hash")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def delete(self, sha256: str) -> None:
        path = self.path_of(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)


def storage_for(app: Flask | None = None) -> Storage:
    """The application's store (one per application, built from ``STORAGE_DIR``)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get("onestop.storage")
    if store is None:
        store = app.extensions["onestop.storage"] = LocalStorage(app.config["STORAGE_DIR"])
    return store
