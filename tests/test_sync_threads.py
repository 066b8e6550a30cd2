"""The blocking variant shared between threads and across fork()."""

from __future__ import annotations

import os
import threading

import store.sync


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


def test_fork_child_uses_fresh_connections(redis_url: str) -> None:
    made = store.sync.create_store(redis_url + "/7")
    made.flush()
    made.execute("SET", "k", "parent")
    parent_id = made.execute("CLIENT", "ID")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it sees, never run the parent's teardown
        code = 1
        try:
            child_id = made.execute("CLIENT", "ID")
            value = made.execute("GET", "k")
            os.write(write, f"{child_id} {value.decode()}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    child_id, value = answer.split()
    assert value == "parent"
    assert int(child_id) != parent_id
    # the parent's pooled connection is untouched by the child
    assert made.execute("CLIENT", "ID") == parent_id
    made.flush()
    made.close()
