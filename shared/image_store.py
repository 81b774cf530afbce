"""A directory of uploaded plant photos, shared by intake and worker.

Photos are addressed by keys that this module generates from the content's
SHA-256, so identical uploads share one file and no client value ever becomes
a path.
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path

FILE_MODE = 0o644
_KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]{1,5}$")


class ImageKeyError(ValueError):
    """Raised for a key this store did not generate or that leaves the store."""


class ImageStore:
    """Stores photos under `root` by content key."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @staticmethod
    def key_for(image_bytes: bytes, extension: str) -> str:
        """Return the key that `save` stores these bytes under, writing nothing."""
        digest = hashlib.sha256(image_bytes).hexdigest()
        return f"{digest[:2]}/{digest}.{extension}"

    def save(self, image_bytes: bytes, extension: str) -> str:
        """Store the photo and return its key, such as `ab/ab12….jpg`."""
        key = self.key_for(image_bytes, extension)
        self.write(key, image_bytes)
        return key

    def write(self, key: str, image_bytes: bytes) -> None:
        """Store the photo under `key`, which `key_for` returned for these bytes.

        The write is atomic: readers see the whole file or no file. When the
        key already has a file, nothing is written, so identical uploads share
        one file. Raises `OSError` when the file cannot be written.
        """
        path = self.path_for(key)
        if path.exists():
            return

        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file in the same directory makes os.replace atomic.
        fd, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as temporary_file:
                # mkstemp creates the file 0600, and the worker may run as
                # another user.
                os.fchmod(temporary_file.fileno(), FILE_MODE)
                temporary_file.write(image_bytes)
                temporary_file.flush()
                os.fsync(temporary_file.fileno())
            os.replace(temporary_name, path)
        except BaseException:
            Path(temporary_name).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)

    def path_for(self, key: str) -> Path:
        """Return the file path of `key`; raise `ImageKeyError` for a foreign key."""
        if not _KEY_PATTERN.fullmatch(key):
            msg = f"invalid image key {key!r}: expected xx/<sha256>.<extension>"
            raise ImageKeyError(msg)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            msg = f"image key {key!r} resolves outside the image store"
            raise ImageKeyError(msg)
        return path

    def read(self, key: str) -> bytes:
        """Return the stored bytes; raise `FileNotFoundError` if the key has no file."""
        return self.path_for(key).read_bytes()


def digest_of_key(key: str) -> str:
    """Return the SHA-256 hex digest a key was generated from."""
    return key.rsplit("/", 1)[-1].split(".", 1)[0]


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry reaches the disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
