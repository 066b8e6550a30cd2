"""The blocking variant shared between threads and across fork()."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import store.sync
from store._sync import pool as pool_module


def test_threads_share_one_store(redis_url: str) -> None:
    made = store.sync.create_store(redis_url + "/6", max_connections=4)
    made.flush()
    errors: list[BaseException] = []
    high_water = [0]

    def work(n: int) -> None:
        try:
            for i in range(300):
                key = f"t{n}:{i}"
                made.execute("SET", key, f"{n}-{i}")
                assert made.execute("GET", key) == f"{n}-{i}".encode()
                made.execute("INCR", "total")
                high_water[0] = max(high_water[0], made.pool.in_use)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert made.execute("GET", "total") == b"2400"
    assert high_water[0] <= 4
    assert made.pool.idle <= 4 and made.pool.in_use == 0
    made.flush()
    made.close()


# -- 16 threads x 10,000 commands on one store -----------------------------------------------

THREADS = 16
COMMANDS = 10_000
MAX_CONNECTIONS = 6


def _redis_store(url: str, **kw: Any) -> store.sync.RedisStore:
    made = store.sync.create_store(url, **kw)
    assert isinstance(made, store.sync.RedisStore)
    return made


def _open_sockets() -> set[tuple[int, str]]:
    """This process's open sockets: (descriptor, inode link) from /proc/self/fd."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:  # the descriptor listdir itself used
            continue
        if target.startswith("socket:"):
            found.add((int(name), target))
    return found


def _clients_named(observer: store.sync.RedisStore, name: str) -> list[int]:
    """The ids of the server's client connections named ``name``."""
    listing = observer.execute("CLIENT", "LIST").decode()
    ids = []
    for line in listing.splitlines():
        fields = dict(item.split("=", 1) for item in line.split(" ") if "=" in item)
        if fields.get("name") == name:
            ids.append(int(fields["id"]))
    return ids


class _Worker:
    """One thread's commands, each reply checked against what this thread alone did to
    its own keys (so a reply given to another thread, or out of order, is caught)."""

    def __init__(self, made: store.sync.RedisStore, n: int, seed: int) -> None:
        self.made = made
        self.n = n
        self.rng = random.Random(seed)
        self.values: dict[str, bytes] = {}
        self.counter = 0
        self.list_length = 0
        self.hash: dict[str, bytes] = {}
        self.total = 0  # INCRs of the key every thread increments
        self.done = 0

    def step(self, i: int) -> None:
        made, n, rng = self.made, self.n, self.rng
        kind = rng.randrange(100)
        if kind < 25:
            key = f"{n}:s{rng.randrange(50)}"
            value = f"{n}-{i}-{rng.getrandbits(32):x}".encode()
            assert made.execute("SET", key, value) == b"OK"
            self.values[key] = value
        elif kind < 45:
            key = f"{n}:s{rng.randrange(50)}"
            assert made.execute("GET", key) == self.values.get(key), (n, i, key)
        elif kind < 55:
            self.counter += 1
            assert made.execute("INCR", f"{n}:counter") == self.counter
        elif kind < 62:
            self.total += 1
            assert isinstance(made.execute("INCR", "total"), int)
        elif kind < 72:
            self.list_length += 1
            assert made.execute("LPUSH", f"{n}:list", f"{n}-{i}") == self.list_length
        elif kind < 82:
            field = f"f{rng.randrange(20)}"
            value = f"{n}-{i}".encode()
            new = field not in self.hash
            assert made.execute("HSET", f"{n}:hash", field, value) == int(new)
            self.hash[field] = value
        elif kind < 87:
            field = f"f{rng.randrange(20)}"
            assert made.execute("HGET", f"{n}:hash", field) == self.hash.get(field)
        elif kind < 95:
            self.pipeline(i, transaction=False)
        else:
            self.pipeline(i, transaction=True)
        self.done += 1

    def pipeline(self, i: int, transaction: bool) -> None:
        n = self.n
        key = f"{n}:p{self.rng.randrange(10)}"
        value = f"{n}-{i}-pipe".encode()
        before = self.values.get(key)
        self.counter += 1
        self.list_length += 1
        with self.made.pipeline(transaction=transaction) as pipe:
            pipe.execute("GET", key)
            pipe.execute("SET", key, value)
            pipe.execute("INCR", f"{n}:counter")
            pipe.execute("LPUSH", f"{n}:list", f"{n}-{i}")
            pipe.execute("ECHO", f"{n}-{i}")
            replies = pipe.commit()
        assert replies == [before, b"OK", self.counter, self.list_length, f"{n}-{i}".encode()]
        self.values[key] = value

    def verify(self) -> None:
        """The server holds what this thread's replies said."""
        made, n = self.made, self.n
        assert made.execute("GET", f"{n}:counter") == (
            str(self.counter).encode() if self.counter else None
        )
        assert made.execute("LLEN", f"{n}:list") == self.list_length
        assert made.execute("HGETALL", f"{n}:hash") == {
            field.encode(): value for field, value in self.hash.items()
        }
        for key, value in self.values.items():
            assert made.execute("GET", key) == value, key


def _start_threads(
    targets: list[Callable[[], None]], name: str | None = None
) -> Callable[[], list[BaseException]]:
    """Start ``targets`` in threads; the returned function joins them and gives their
    errors (reported by the main thread)."""
    errors: list[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(target,), name=name) for target in targets]
    for thread in threads:
        thread.start()

    def join() -> list[BaseException]:
        for thread in threads:
            thread.join()
        return errors

    return join


def _run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    return _start_threads(targets)()


def test_sixteen_threads_ten_thousand_commands_each(redis_url: str) -> None:
    sockets_before = _open_sockets()
    name = f"threads-{uuid.uuid4().hex[:8]}"
    made = store.sync.create_store(
        redis_url + "/5", max_connections=MAX_CONNECTIONS, client_name=name, pool_timeout=60
    )
    assert isinstance(made, store.sync.RedisStore)
    observer = _redis_store(redis_url + "/5", max_connections=1)
    made.flush()
    pool = made.pool
    workers = [_Worker(made, n, seed=20261129 + n) for n in range(THREADS)]
    running = threading.Event()
    running.set()
    samples = {"pool": 0, "server": 0}
    high_water = {"pool": 0, "server": 0, "in_use": 0}

    def work(worker: _Worker) -> Callable[[], None]:
        def target() -> None:
            for i in range(COMMANDS):
                worker.step(i)

        return target

    def watch() -> None:
        """Sample the pool and the server's client list while the workers run."""
        while running.is_set():
            # one consistent snapshot: no other thread runs between these two reads (the
            # GIL is only handed over after the call to len), whereas reading the in_use
            # and idle properties one after the other could count a connection twice as
            # it moves between the two
            in_use, total = pool._in_use, pool._in_use + len(pool._idle)
            assert total <= MAX_CONNECTIONS, (in_use, total)
            high_water["pool"] = max(high_water["pool"], total)
            high_water["in_use"] = max(high_water["in_use"], in_use)
            samples["pool"] += 1
            if samples["pool"] % 20 == 0:
                connected = len(_clients_named(observer, name))
                assert connected <= MAX_CONNECTIONS, connected
                high_water["server"] = max(high_water["server"], connected)
                samples["server"] += 1
            time.sleep(0.001)

    watcher_errors: list[BaseException] = []

    def watcher() -> None:
        try:
            watch()
        except BaseException as exc:
            watcher_errors.append(exc)

    watching = threading.Thread(target=watcher)
    watching.start()
    try:
        errors = _run_threads([work(worker) for worker in workers])
    finally:
        running.clear()
        watching.join()
    assert not errors, errors[0]
    assert not watcher_errors, watcher_errors[0]
    assert sum(worker.done for worker in workers) == THREADS * COMMANDS
    # the threads did contend: the pool was filled up to its bound, and the watcher saw it
    assert high_water["in_use"] > 1 and samples["server"] > 0, (high_water, samples)
    assert 1 < len(_clients_named(observer, name)) <= MAX_CONNECTIONS
    assert pool.in_use == 0 and pool.idle <= MAX_CONNECTIONS
    assert made.execute("GET", "total") == str(sum(w.total for w in workers)).encode()
    for worker in workers:
        worker.verify()
    made.flush()
    made.close()
    observer.close()
    assert pool.in_use == 0 and pool.idle == 0
    # closed: no socket left open by this test, and the server sees no connection of ours
    leaked = _open_sockets() - sockets_before
    assert not leaked, leaked
    observer = _redis_store(redis_url + "/5", max_connections=1)
    for _ in range(50):  # the server notices closed sockets on its next event loop turn
        if not _clients_named(observer, name):
            break
        time.sleep(0.05)
    assert _clients_named(observer, name) == []
    observer.close()


# -- close() while other threads give connections back ------------------------------------


def test_close_while_a_thread_gives_its_connection_back(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() runs in the main thread exactly while a worker thread is inside
    pool.release(), between its "is this connection current?" check and putting the
    connection on the idle list. Before the fix the connection landed in the idle list
    after close() had emptied it: open, and kept after close() returned."""
    made = _redis_store(redis_url + "/5", max_connections=2)
    pool = made.pool
    assert made.execute("PING") == b"PONG"  # one idle connection, reused below
    (connection,) = list(pool._idle)
    inside_release = threading.Event()
    closed = threading.Event()
    real_monotonic = time.monotonic  # what the pool module calls
    calls: list[bool] = []

    def monotonic() -> float:
        # called by release() to stamp a connection it is about to put back as idle
        if threading.current_thread().name == "releasing" and not calls:
            calls.append(True)
            inside_release.set()
            assert closed.wait(10)
        return real_monotonic()

    monkeypatch.setattr(pool_module, "monotonic", monotonic)
    join = _run_threads_until(
        [lambda: made.execute("SET", "closing", "1")], "releasing", inside_release
    )
    made.close()  # the worker thread is paused inside release()
    closed.set()
    errors = join()
    assert not errors, errors[0]
    assert calls, "release() no longer stamps the connection: this test must be updated"
    assert pool.idle == 0 and pool.in_use == 0, pool
    assert not connection.is_connected
    made.close()


def test_close_and_acquire_wait_for_the_pools_lock(redis_url: str) -> None:
    """The pool's bookkeeping is under its thread lock (it used to rely on catching the
    IndexError of a deque emptied by another thread): while another thread holds the
    lock, close() and acquire() wait; once it is released they finish, and close() leaves
    no idle connection behind."""
    made = _redis_store(redis_url + "/5", max_connections=4)
    pool = made.pool
    held = [pool.acquire() for _ in range(3)]
    for connection in held:
        pool.release(connection)
    assert pool.idle == 3
    finished: list[str] = []
    with pool._lock:
        closer = threading.Thread(target=lambda: (made.close(), finished.append("close")))
        closer.start()
        closer.join(0.2)
        assert finished == []  # close() waits for the lock
    closer.join(10)
    assert finished == ["close"] and pool.idle == 0
    with pool._lock:
        taker = threading.Thread(target=lambda: finished.append(made.execute("PING")))
        taker.start()
        taker.join(0.2)
        assert finished == ["close"]  # acquire() waits for the lock too
    taker.join(10)
    assert finished == ["close", b"PONG"] and pool.in_use == 0
    made.close()


def test_close_while_threads_run_commands(redis_url: str) -> None:
    """Repeatedly close() a store whose threads are mid-command, then let them stop: no
    connection opened before a close() stays in the pool after it (the threads' later
    commands open new ones), and after the last close() no socket is left open. The
    interpreter switches threads as often as it can meanwhile, to make the races likely."""
    sockets_before = _open_sockets()
    made = _redis_store(redis_url + "/5", max_connections=8)
    pool = made.pool
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _close_while_running(made)
    finally:
        sys.setswitchinterval(switch_interval)
    made.close()
    assert pool.idle == 0 and pool.in_use == 0
    leaked = _open_sockets() - sockets_before
    assert not leaked, leaked


def _close_while_running(made: store.sync.RedisStore) -> None:
    pool = made.pool
    for trial in range(300):
        errors = _run_threads(_closing_round(made, trial))
        if errors:
            raise errors[0]  # with the traceback of where it happened
        stale = [c for c in pool._idle if c.generation < pool._generation]
        assert not stale, (trial, stale)


def _closing_round(made: store.sync.RedisStore, trial: int) -> list[Callable[[], None]]:
    """Eight threads running commands until another one has closed the store."""
    stop = threading.Event()

    def work(n: int) -> Callable[[], None]:
        def target() -> None:
            i = 0
            while not stop.is_set():
                value = f"{trial}-{n}-{i}"
                assert made.execute("SET", f"c{n}", value) == b"OK"
                assert made.execute("GET", f"c{n}") == value.encode()
                i += 1

        return target

    def close_soon() -> None:
        time.sleep(0.001 * (trial % 10))
        try:
            made.close()
        finally:
            stop.set()

    return [work(n) for n in range(8)] + [close_soon]


def _run_threads_until(
    targets: list[Callable[[], None]], name: str, reached: threading.Event
) -> Callable[[], list[BaseException]]:
    """Start ``targets`` in threads named ``name`` and wait until ``reached`` is set; the
    returned function joins them and gives their errors."""
    join = _start_threads(targets, name)
    assert reached.wait(10)
    return join


# -- fork ---------------------------------------------------------------------------------


def _fork_and_report(child: Callable[[], str]) -> str:
    """Run ``child()`` in a forked process; its answer, or AssertionError with its error."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # multi-threaded fork (3.12+)
        pid = os.fork()
    if pid == 0:  # child: report what it sees, never run the parent's teardown
        code = 1
        try:
            try:
                answer = "ok " + child()
            except BaseException as exc:
                answer = f"error {type(exc).__name__}: {exc}"
            os.write(write, answer.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read)
            raise AssertionError("the forked child hung")
        time.sleep(0.01)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    answer = b"".join(chunks).decode()
    assert answer.startswith("ok "), answer
    return answer[3:]


def test_fork_child_uses_fresh_connections(redis_url: str) -> None:
    made = store.sync.create_store(redis_url + "/7")
    made.flush()
    made.execute("SET", "k", "parent")
    parent_id = made.execute("CLIENT", "ID")

    def child() -> str:
        return f"{made.execute('CLIENT', 'ID')} {made.execute('GET', 'k').decode()}"

    child_id, value = _fork_and_report(child).split()
    assert value == "parent"
    assert int(child_id) != parent_id
    # the parent's pooled connection is untouched by the child
    assert made.execute("CLIENT", "ID") == parent_id
    made.flush()
    made.close()


def test_fork_while_threads_are_mid_command(redis_url: str) -> None:
    """Threads keep issuing commands while the main thread forks: each child starts with an
    empty pool and its own connections, and never reads or closes a parent's connection
    (the parent's threads keep getting their own replies, on the same connections)."""
    name = f"fork-{uuid.uuid4().hex[:8]}"
    made = _redis_store(redis_url + "/7", max_connections=4, client_name=name)
    observer = _redis_store(redis_url + "/7", max_connections=1)
    made.flush()
    made.execute("SET", "shared", "from-parent")
    running = threading.Event()
    running.set()
    counts = [0] * 6

    def hammer(n: int) -> Callable[[], None]:
        def target() -> None:
            rng = random.Random(n)
            i = 0
            while running.is_set() or i < 200:
                value = f"{n}-{i}-{rng.getrandbits(48):x}"
                assert made.execute("SET", f"h{n}", value) == b"OK"
                assert made.execute("GET", f"h{n}") == value.encode()
                assert made.execute("INCR", f"c{n}") == i + 1
                if i % 7 == 0:
                    with made.pipeline() as pipe:
                        pipe.execute("GET", f"h{n}")
                        pipe.execute("ECHO", value)
                        assert pipe.commit() == [value.encode(), value.encode()]
                i += 1
                counts[n] = i

        return target

    def child() -> str:
        pool = made.pool
        # fresh: nothing inherited from the parent, in use or idle
        assert pool.in_use == 0 and pool.idle == 0, pool
        ids = [made.execute("CLIENT", "ID") for _ in range(3)]
        assert made.execute("GET", "shared") == b"from-parent"
        assert made.execute("SET", f"child-{os.getpid()}", "x") == b"OK"
        assert pool.in_use == 0 and pool.idle == 1, pool
        made.close()
        return " ".join(map(str, ids))

    errors: list[BaseException] = []
    results: list[str] = []
    threads = []

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    for n in range(len(counts)):
        thread = threading.Thread(target=run, args=(hammer(n),))
        threads.append(thread)
        thread.start()
    try:
        time.sleep(0.05)
        for _ in range(8):
            parent_ids = set(_clients_named(observer, name))
            results.append(_fork_and_report(child))
            child_ids = {int(x) for x in results[-1].split()}
            assert len(child_ids) == 1, results[-1]  # one connection, reused
            assert not child_ids & parent_ids, (child_ids, parent_ids)
            time.sleep(0.02)
    finally:
        running.clear()
        for thread in threads:
            thread.join()
    assert not errors, errors[0]
    assert all(count >= 200 for count in counts), counts
    for n, count in enumerate(counts):
        assert made.execute("GET", f"c{n}") == str(count).encode()
    # the parent's connections are the ones it had, still open and in the pool
    pool = made.pool
    assert pool.in_use == 0 and 0 < pool.idle <= 4
    parent_ids = set(_clients_named(observer, name))
    seen = set()
    taken = [pool.acquire() for _ in range(pool.idle)]
    try:
        for connection in taken:
            seen.add(connection.execute("CLIENT", "ID"))
    finally:
        for connection in taken:
            pool.release(connection)
    assert seen <= parent_ids, (seen, parent_ids)
    assert len(seen) == len(taken)
    children = len([k for k in made.execute("KEYS", "child-*")])
    assert children == 8
    made.flush()
    made.close()
    observer.close()
