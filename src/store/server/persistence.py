"""Persistence: what coordinates the data files. ``SnapshotManager`` runs SAVE, BGSAVE and
the save rules (the format is in ``snapshot``) and schedules and finishes the background
rewrite of the append-only log (``aof``), one background job at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from .aof import RewriteBuffer, encode_commands, log_path
from .files import PersistenceError, install, remove_leftover_temps, temp_path, write_file
from .snapshot import encode_snapshot, load_snapshot, write_snapshot

if TYPE_CHECKING:
    from .core import PulsarDS

__all__ = ["PersistenceError", "SnapshotManager"]

log = logging.getLogger("store.server")

_RETRY_DELAY = 5  # seconds before a failed automatic save is tried again (Redis's value)


class _Job:
    """A file written by a worker thread; the event loop reaps it in ``tick``."""

    def __init__(self, name: str, path: str, work: Callable[[threading.Event], None]) -> None:
        self.path = path
        self.future: Future[None] = Future()
        self.cancel = threading.Event()
        self.started = time.monotonic()
        self.dirty = 0  # server.dirty when the data was captured
        self.buffer: RewriteBuffer | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"pulsards-{name}", daemon=True)

    def start(self) -> None:
        self.future.set_running_or_notify_cancel()
        self._thread.start()

    def _run(self) -> None:
        try:
            self._work(self.cancel)
        except BaseException as exc:
            self.future.set_exception(exc)
        else:
            self.future.set_result(None)


def _elapsed(started: float) -> int:
    return int(time.monotonic() - started)


class SnapshotManager:
    """Snapshots (SAVE, BGSAVE, save rules) and the background jobs that write files,
    including the AOF rewrite.

    Background saves serialize the whole dataset to bytes on the event loop, then write
    and fsync it on a worker thread. The data is captured at one instant without locks,
    at the cost of a pause proportional to the dataset. ``os.fork()`` (Redis's
    copy-on-write) would avoid the pause but is unsafe when other threads exist, and
    PulsarDS often runs on a thread of a bigger program (``ServerThread``).
    """

    def __init__(self, server: PulsarDS) -> None:
        self.server = server
        self.bgsave_scheduled = False
        self.rewrite_scheduled = False
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_seconds = -1
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1
        self.saves = 0
        self.rewrites = 0
        self.refused: str | None = None
        self._save_job: _Job | None = None
        self._rewrite_job: _Job | None = None

    @property
    def path(self) -> str:
        return os.path.join(self.server.config.dir, self.server.config.dbfilename)

    @property
    def saving(self) -> bool:
        return self._save_job is not None

    @property
    def rewriting(self) -> bool:
        return self._rewrite_job is not None

    def refuse(self, reason: str) -> None:
        """A data file failed to load: never write over it (it may be all there is)."""
        self.refused = reason

    def _check_allowed(self) -> None:
        if self.refused is not None:
            raise PersistenceError(f"refusing to write data files: {self.refused}")

    # -- loading -----------------------------------------------------------------------

    def load(self) -> None:
        """Load the snapshot into the (empty) databases; a missing file is an empty
        dataset. With ``appendonly`` and an existing AOF the AOF is loaded instead.
        Temporary files that a killed save or rewrite left are removed first."""
        config = self.server.config
        remove_leftover_temps([self.path, log_path(config)])
        if config.appendonly and os.path.exists(log_path(config)):
            log.info("appendonly is on and the AOF exists: the snapshot is not loaded")
            return
        try:
            functions = load_snapshot(self.server.databases, self.path)
            if functions:
                from .commands.functions import restore_functions
                from .lua import FunctionError

                try:
                    restore_functions(self.server, functions)
                except FunctionError as exc:
                    raise PersistenceError(
                        f"snapshot {self.path}: a function library does not load: {exc}"
                    ) from None
        except PersistenceError as exc:
            self.refuse(str(exc))
            raise PersistenceError(f"{exc}; start-up stopped, the file is left untouched") from exc

    # -- saving ------------------------------------------------------------------------

    def _functions(self) -> list[bytes]:
        """The code of the function libraries, saved with the data."""
        from .commands.functions import function_codes

        return function_codes(self.server)

    def save(self) -> None:
        """Write a snapshot now, on the calling thread (SAVE, SHUTDOWN)."""
        self._check_allowed()
        job = self._save_job
        if job is not None:
            # Two writers must not share the temp file: let the running one finish first.
            with contextlib.suppress(Exception):
                job.future.result()
            self._reap()
        path = self.path
        started = time.monotonic()
        try:
            write_snapshot(path, encode_snapshot(self.server.databases, self._functions()), None)
        except OSError as exc:
            raise PersistenceError(f"cannot save the snapshot {path}: {exc}") from exc
        self.server.dirty = 0
        self.server.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.saves += 1
        log.info("DB saved on disk (%s, %.3fs)", path, time.monotonic() - started)

    def background_save(self) -> None:
        """Capture the dataset now and write it on a worker thread (BGSAVE)."""
        self._check_allowed()
        if self._save_job is not None:
            raise PersistenceError("Background save already in progress")
        self.bgsave_scheduled = False
        self.last_bgsave_try = time.time()
        try:
            body = encode_snapshot(self.server.databases, self._functions())
        except PersistenceError:
            self.last_bgsave_ok = False
            raise
        path = self.path
        job = _Job("bgsave", path, lambda cancel: write_snapshot(path, body, cancel))
        job.dirty = self.server.dirty
        self._save_job = job
        job.start()
        log.info("Background saving started")

    def background_rewrite(self) -> None:
        """Rewrite the AOF from the dataset on a worker thread (BGREWRITEAOF). Commands
        logged meanwhile are kept in a buffer and appended before the switch."""
        self._check_allowed()
        if self._rewrite_job is not None:
            raise PersistenceError("Background append only file rewriting already in progress")
        self.rewrite_scheduled = False
        aof = self.server.aof
        config = self.server.config
        path = aof.path if aof is not None else log_path(config)
        body, selected = encode_commands(self.server.databases, self._functions())
        temp = temp_path(path)

        def work(cancel: threading.Event) -> None:
            write_file(temp, [body], cancel)
            if aof is None:  # no log being appended to: nothing to add, switch here
                install(temp, path)

        job = _Job("aof-rewrite", path, work)
        if aof is not None:
            job.buffer = aof.rewrite_buffer = RewriteBuffer(selected)
        self._rewrite_job = job
        job.start()
        log.info("Background append only file rewriting started")

    def cancel_rewrite(self) -> None:
        job = self._rewrite_job
        if job is not None:
            job.cancel.set()

    # -- the server tick ---------------------------------------------------------------

    def tick(self) -> None:
        """Reap finished jobs; start scheduled jobs and saves whose rule is met."""
        self._reap()
        if self.refused is not None or self._save_job is not None or self._rewrite_job is not None:
            return  # like Redis: one background job at a time
        now = time.time()
        may_retry = self.last_bgsave_ok or now - self.last_bgsave_try > _RETRY_DELAY
        try:
            if self.rewrite_scheduled:
                self.background_rewrite()
                return
            if self.bgsave_scheduled and may_retry:
                self.background_save()
                return
            server = self.server
            for seconds, changes in server.config.save:
                if server.dirty >= changes and now - server.lastsave >= seconds and may_retry:
                    log.info("%d changes in %d seconds. Saving...", changes, seconds)
                    self.background_save()
                    return
        except PersistenceError as exc:
            log.warning("background job not started: %s", exc)

    def _reap(self) -> None:
        job = self._save_job
        if job is not None and job.future.done():
            self.last_bgsave_seconds = _elapsed(job.started)
            error = job.future.exception()
            if error is None:
                server = self.server
                server.dirty = max(0, server.dirty - job.dirty)
                server.lastsave = int(time.time())
                self.last_bgsave_ok = True
                self.saves += 1
                log.info("Background saving terminated with success (%s)", job.path)
            else:
                self.last_bgsave_ok = False
                log.warning("Background saving error (%s): %s", job.path, error)
            self._save_job = None  # in progress until its results are recorded
        job = self._rewrite_job
        if job is not None and job.future.done():
            self.last_rewrite_seconds = _elapsed(job.started)
            try:
                self._finish_rewrite(job)
            finally:
                # in progress until the new file is in place (INFO, tests in other threads)
                self._rewrite_job = None

    def _finish_rewrite(self, job: _Job) -> None:
        error = job.future.exception()
        aof = self.server.aof
        buffer = job.buffer
        if buffer is not None and (aof is None or aof.rewrite_buffer is not buffer):
            error = error or PersistenceError("the AOF was closed during the rewrite")
        if error is None and buffer is not None and aof is not None:
            try:
                aof.install_rewrite(temp_path(job.path), buffer)
            except OSError as exc:
                error = exc
        if aof is not None and aof.rewrite_buffer is buffer:
            aof.rewrite_buffer = None
        if error is None:
            self.last_rewrite_ok = True
            self.rewrites += 1
            log.info("Background AOF rewrite finished successfully (%s)", job.path)
        else:
            self.last_rewrite_ok = False
            with contextlib.suppress(OSError):
                os.unlink(temp_path(job.path))
            log.warning("Background AOF rewrite failed (%s): %s", job.path, error)

    async def wait(self) -> None:
        """Let running background jobs finish (server close)."""
        for job in (self._save_job, self._rewrite_job):
            if job is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wrap_future(job.future)
        self._reap()

    def info(self) -> dict[str, Any]:
        """The fields of INFO persistence that these files determine, in Redis's order."""
        save = self._save_job
        rewrite = self._rewrite_job
        aof = self.server.aof
        return {
            "rdb_changes_since_last_save": self.server.dirty,
            "rdb_bgsave_in_progress": int(save is not None),
            "rdb_last_save_time": self.server.lastsave,
            "rdb_last_bgsave_status": "ok" if self.last_bgsave_ok else "err",
            "rdb_last_bgsave_time_sec": self.last_bgsave_seconds,
            "rdb_current_bgsave_time_sec": -1 if save is None else _elapsed(save.started),
            "rdb_saves": self.saves,
            "aof_enabled": int(aof is not None),
            "aof_rewrite_in_progress": int(rewrite is not None),
            "aof_rewrite_scheduled": int(self.rewrite_scheduled),
            "aof_last_rewrite_time_sec": self.last_rewrite_seconds,
            "aof_current_rewrite_time_sec": -1 if rewrite is None else _elapsed(rewrite.started),
            "aof_last_bgrewrite_status": "ok" if self.last_rewrite_ok else "err",
            "aof_rewrites": self.rewrites,
            "aof_last_write_status": "ok" if aof is None or aof.write_error is None else "err",
        }
