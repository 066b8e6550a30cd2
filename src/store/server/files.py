"""Data files: the error for one that cannot be trusted or written, and writing one safely.

A file is written to a temporary name in the same directory, fsynced, renamed over the old
one with ``os.replace`` and the directory fsynced, so a crash at any point leaves either
the old file or the new one, never a mix. A temporary file a killed process left behind
is removed at the next start-up (``remove_leftover_temps``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Iterable

from ..errors import StoreError

__all__ = ["PersistenceError", "install", "remove_leftover_temps", "temp_path", "write_file"]

log = logging.getLogger("store.server")

_WRITE_CHUNK = 1 << 20


class PersistenceError(StoreError):
    """A data file that cannot be trusted or written: start-up stops with this message."""


def temp_path(path: str) -> str:
    """Where the next version of ``path`` is written before it is installed."""
    return path + ".tmp"


def remove_leftover_temps(paths: Iterable[str]) -> None:
    """Delete the temporary files of ``paths`` (data files) left by a save that was killed
    before installing them; at start-up, so no writer of ours can own them. Only regular
    files at exactly those names are touched."""
    for path in paths:
        temp = temp_path(path)
        try:
            if not stat.S_ISREG(os.lstat(temp).st_mode):
                continue
            os.unlink(temp)
        except FileNotFoundError:
            continue
        except OSError as exc:  # the next save overwrites it anyway: start-up goes on
            log.warning("cannot remove the leftover temporary file %s: %s", temp, exc)
            continue
        log.warning("removed %s, a temporary file left by an interrupted save", temp)


def write_file(path: str, parts: Iterable[bytes], cancel: threading.Event | None) -> None:
    """Write ``parts`` to ``path`` and fsync it; on failure nothing is left at ``path``.
    Setting ``cancel`` stops the writing (PersistenceError "cancelled")."""
    try:
        with open(path, "wb") as file:
            for part in parts:
                view = memoryview(part)
                for offset in range(0, len(view), _WRITE_CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise PersistenceError("cancelled")
                    file.write(view[offset : offset + _WRITE_CHUNK])
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def install(temp: str, path: str) -> None:
    """Put the fsynced ``temp`` in place of ``path`` and make the rename durable."""
    os.replace(temp, path)
    _fsync_directory(os.path.dirname(path))


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform where directories cannot be opened (Windows)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        log.warning("fsync of directory %s failed: %s", directory, exc)
    finally:
        os.close(fd)
