"""Private files and directories: 0700 and 0600 whatever the umask; atomic writes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from crypto_trader.errors import ConfigurationError, UnsafeFileError

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it 0700."""
    not_a_directory = ConfigurationError(f"{path} is not a directory; move it away")
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if path.is_symlink() or not path.is_dir():
            raise not_a_directory
        os.chmod(path, DIR_MODE)
    except PermissionError as exc:
        raise ConfigurationError(f"cannot use {path}: permission denied") from exc
    except (FileExistsError, NotADirectoryError):
        raise not_a_directory from None
    return path


def touch_private(path: Path) -> Path:
    """Create an empty 0600 file if it is missing; make an existing one 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        # Never leave a stray copy of the data beside the target.
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so that a rename survives a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_private_file(path: Path) -> os.stat_result:
    """Refuse a file that is a link, someone else's, or open to others."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFileError(
            f"{path} is a symbolic link; replace it with the real file it points to"
        )
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(f"{path} is not a regular file; remove it")
    if info.st_uid != os.geteuid():
        raise UnsafeFileError(
            f"{path} is owned by uid {info.st_uid}, not by you; "
            f"run: chown {os.geteuid()} {path}"
        )
    if info.st_mode & 0o077:
        raise UnsafeFileError(
            f"{path} is readable or writable by others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )
    return info


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` across processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
