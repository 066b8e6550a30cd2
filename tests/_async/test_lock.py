"""Distributed locks: contention between stores, ownership, expiry, extend."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from store._backend.synchronization import async_sleep
from store.aio import LockError, RedisStore, create_store

StoreFactory = Callable[..., RedisStore]


async def wait_until_gone(store: RedisStore, key: str, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while await store.execute("EXISTS", key):
        assert time.monotonic() < deadline, f"{key} did not expire"
        await async_sleep(0.01)


async def test_acquire_and_release(store: RedisStore) -> None:
    lock = store.lock("L", timeout=10)
    assert await lock.locked() is False
    assert await lock.owned() is False
    assert await lock.acquire() is True
    assert isinstance(lock.token, str) and len(lock.token) == 32
    assert await store.execute("GET", "L") == lock.token.encode()
    assert 9_000 < await store.execute("PTTL", "L") <= 10_000
    assert await lock.locked() is True
    assert await lock.owned() is True
    await lock.release()
    assert lock.token is None
    assert await lock.locked() is False
    assert await store.execute("EXISTS", "L") == 0


async def test_every_acquire_gets_a_new_token(store: RedisStore) -> None:
    lock = store.lock("L")
    await lock.acquire()
    first = lock.token
    await lock.release()
    await lock.acquire()
    assert lock.token != first
    assert await store.execute("TTL", "L") == -1  # no timeout: no expiry
    await lock.release()


async def test_contention_between_two_stores(store_factory: StoreFactory) -> None:
    one = store_factory()
    two = store_factory()
    await one.flush()
    first = one.lock("L", timeout=30)
    second = two.lock("L", timeout=30, sleep=0.05)
    assert await first.acquire() is True
    started = time.monotonic()
    assert await second.acquire(blocking=False) is False
    assert time.monotonic() - started < 2.0
    started = time.monotonic()
    assert await second.acquire(blocking_timeout=0.3) is False
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 5.0
    assert second.token is None
    assert await second.owned() is False and await second.locked() is True
    assert await first.owned() is True
    await first.release()
    assert await second.acquire(blocking=False) is True
    assert await second.owned() is True and await first.owned() is False
    await second.release()


async def test_blocking_defaults_of_the_lock(store_factory: StoreFactory) -> None:
    one = store_factory()
    two = store_factory()
    await one.flush()
    holder = one.lock("L", timeout=30)
    await holder.acquire()
    assert await two.lock("L", blocking=False).acquire() is False
    assert await two.lock("L", blocking_timeout=0.1).acquire() is False
    await holder.release()


async def test_blocking_acquire_waits_for_expiry(store_factory: StoreFactory) -> None:
    one = store_factory()
    two = store_factory()
    await one.flush()
    holder = one.lock("L", timeout=0.3)
    await holder.acquire()
    waiter = two.lock("L", timeout=10, sleep=0.02)
    started = time.monotonic()
    assert await waiter.acquire(blocking_timeout=10) is True
    assert 0.1 < time.monotonic() - started < 9.0
    assert await waiter.owned() is True
    await waiter.release()


async def test_releasing_a_lock_no_longer_owned(store_factory: StoreFactory) -> None:
    one = store_factory()
    two = store_factory()
    await one.flush()
    mine = one.lock("L", timeout=0.05)
    await mine.acquire()
    await wait_until_gone(one, "L")  # expired...
    theirs = two.lock("L", timeout=30)
    assert await theirs.acquire(blocking=False) is True  # ...and taken by another
    assert await mine.owned() is False
    with pytest.raises(LockError, match="no longer owned"):
        await mine.release()
    # the other owner's lock is intact
    assert await two.execute("GET", "L") == theirs.token.encode()  # type: ignore[union-attr]
    assert await theirs.owned() is True
    assert await two.execute("PTTL", "L") > 20_000
    with pytest.raises(LockError):
        await mine.extend(10)
    assert await two.execute("PTTL", "L") <= 30_000
    await theirs.release()


async def test_releasing_a_lock_never_acquired(store: RedisStore) -> None:
    lock = store.lock("L")
    with pytest.raises(LockError):
        await lock.release()
    await lock.acquire()
    await lock.release()
    with pytest.raises(LockError):  # twice
        await lock.release()


async def test_extend(store: RedisStore) -> None:
    lock = store.lock("L", timeout=1)
    with pytest.raises(LockError):
        await lock.extend(1)  # not acquired
    await lock.acquire()
    assert await lock.extend(10) is True
    assert 10_000 < await store.execute("PTTL", "L") <= 11_000
    assert await lock.extend(5, replace_ttl=True) is True
    assert 4_000 < await store.execute("PTTL", "L") <= 5_000
    assert await lock.reacquire() is True
    assert 0 < await store.execute("PTTL", "L") <= 1_000
    with pytest.raises(ValueError):
        await lock.extend(0)
    with pytest.raises(ValueError):
        await lock.extend(-1)
    await lock.release()
    forever = store.lock("F")
    await forever.acquire()
    with pytest.raises(LockError, match="no timeout"):
        await forever.extend(10)
    await forever.release()


async def test_extend_a_lock_taken_by_someone_else(store: RedisStore) -> None:
    lock = store.lock("L", timeout=10)
    await lock.acquire()
    await store.execute("SET", "L", "someone-else", "PX", 5_000)
    with pytest.raises(LockError, match="no longer owned"):
        await lock.extend(100)
    assert await store.execute("PTTL", "L") <= 5_000
    with pytest.raises(LockError):
        await lock.release()
    assert await store.execute("GET", "L") == b"someone-else"


async def test_context_manager(store_factory: StoreFactory) -> None:
    one = store_factory()
    two = store_factory()
    await one.flush()
    async with one.lock("L", timeout=10) as lock:
        assert await lock.owned() is True
        assert await one.execute("EXISTS", "L") == 1
        with pytest.raises(LockError, match="unable to acquire"):
            async with two.lock("L", blocking_timeout=0.1):
                pass  # pragma: no cover
        assert await lock.owned() is True  # the failed attempt left it alone
    assert await one.execute("EXISTS", "L") == 0
    with pytest.raises(RuntimeError):
        async with one.lock("L", timeout=10):
            raise RuntimeError("body failed")
    assert await one.execute("EXISTS", "L") == 0  # released on error too


async def test_token_ownership(store_factory: StoreFactory) -> None:
    store = store_factory()
    await store.flush()
    lock = store.lock("L", timeout=10)
    assert await lock.acquire(token="my-token") is True
    assert lock.token == "my-token"
    assert await store.execute("GET", "L") == b"my-token"
    assert await lock.owned() is True
    same_name = store.lock("L", timeout=10)
    assert await same_name.owned() is False
    assert await same_name.acquire(blocking=False) is False
    bytes_token = store.lock("B")
    assert await bytes_token.acquire(token=b"\x00\xff") is True
    assert await bytes_token.owned() is True
    await bytes_token.release()
    with pytest.raises(TypeError):
        await store.lock("C").acquire(token=12)  # type: ignore[arg-type]
    decoded = store_factory(decode_responses=True).lock("L", timeout=10)
    decoded.token = "my-token"  # another process holding the same token
    assert await decoded.owned() is True
    await decoded.release()
    assert await lock.owned() is False


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"timeout": 0}, ValueError),
        ({"timeout": -1}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"timeout": "10"}, TypeError),
        ({"sleep": 0}, ValueError),
        ({"sleep": -0.1}, ValueError),
        ({"sleep": None}, TypeError),
        ({"blocking_timeout": -1}, ValueError),
        ({"blocking_timeout": "1"}, TypeError),
    ],
)
def test_arguments_are_checked(kw: dict[str, Any], error: type) -> None:
    store = create_store("redis://127.0.0.1:1")  # never connects
    assert isinstance(store, RedisStore)
    with pytest.raises(error) as info:
        store.lock("L", **kw)
    assert next(iter(kw)) in str(info.value)
