"""``python -m bench.streams``: what XADD and XRANGE cost in a stream of 10,000 and of
1,000,000 entries, on PulsarDS and on redis-server (each in its own process).

Commands go in pipelined batches so that the time per command is the server's work, not
the round trip. At each size it times XRANGE and XREVRANGE of 10 entries from random points
of the stream, XADD (appending; the stream is then trimmed back with XTRIM MAXLEN), and
XADD with MAXLEN ~ <size> (trimming whole nodes as it goes). A cost that
grew with the stream would show as a large ratio between the two sizes; the printed table
is microseconds per command, the best of three rounds. Not a test: the figures depend on
the machine.
"""

from __future__ import annotations

import argparse
import random
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from store.resp import NOT_ENOUGH, make_reader, pack_command

from .server import RedisServer
from .servers import ServerProcess, _pulsards_argv

SIZES = (10_000, 1_000_000)
BATCH = 1000


class Connection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = make_reader()

    def pipeline(self, commands: list[bytes]) -> list[object]:
        self.sock.sendall(b"".join(commands))
        replies: list[object] = []
        while len(replies) < len(commands):
            reply = self.reader.gets()
            if reply is not NOT_ENOUGH:
                replies.append(reply)
                continue
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.reader.feed(data)
        return replies


def fill(conn: Connection, size: int) -> None:
    conn.pipeline([pack_command("DEL", "s")])
    for start in range(1, size + 1, 5000):
        conn.pipeline(
            [
                pack_command("XADD", "s", f"{i}-1", "field", f"value-{i}")
                for i in range(start, min(start + 5000, size + 1))
            ]
        )


def timed(conn: Connection, commands: Iterator[bytes], count: int, rounds: int = 3) -> float:
    """Microseconds per command: the best of ``rounds`` rounds of ``count`` commands sent
    ``BATCH`` at a time (the best, as other load on the machine only ever adds time)."""
    best = float("inf")
    for _ in range(rounds):
        total = 0.0
        done = 0
        while done < count:
            batch = [next(commands) for _ in range(min(BATCH, count - done))]
            begin = time.perf_counter()
            conn.pipeline(batch)
            total += time.perf_counter() - begin
            done += len(batch)
        best = min(best, total / count * 1e6)
    return best


def measure(conn: Connection, size: int, count: int) -> dict[str, float]:
    fill(conn, size)
    rng = random.Random(size)
    next_id = [size + 1]

    def xadds(trim: bool) -> Iterator[bytes]:
        while True:
            i = next_id[0]
            next_id[0] += 1
            if trim:
                yield pack_command("XADD", "s", "MAXLEN", "~", str(size), f"{i}-1", "f", "v")
            else:
                yield pack_command("XADD", "s", f"{i}-1", "field", "value")

    def ranges(rev: bool) -> Iterator[bytes]:
        while True:
            at = rng.randint(1, size)
            if rev:
                yield pack_command("XREVRANGE", "s", f"{at}-1", "-", "COUNT", "10")
            else:
                yield pack_command("XRANGE", "s", f"{at}-1", "+", "COUNT", "10")

    # ranges first, from random points of the stream as filled (1-1 to <size>-1)
    results = {"XRANGE COUNT 10": timed(conn, ranges(False), count)}
    results["XREVRANGE COUNT 10"] = timed(conn, ranges(True), count)
    results["XADD"] = timed(conn, xadds(False), count)
    conn.pipeline([pack_command("XTRIM", "s", "MAXLEN", str(size))])
    results["XADD MAXLEN ~"] = timed(conn, xadds(True), count)
    return results


@contextmanager
def servers() -> Iterator[list[tuple[str, int]]]:
    with RedisServer() as redis, ServerProcess("PulsarDS", _pulsards_argv(None)) as pulsar:
        yield [("PulsarDS", pulsar.port), ("redis-server", redis.port)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="commands per round")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="stream sizes")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    table: dict[tuple[str, str, int], float] = {}
    operations: list[str] = []
    with servers() as running:
        for name, port in running:
            conn = Connection(port)
            for size in sizes:
                for operation, cost in measure(conn, size, args.count).items():
                    table[(name, operation, size)] = cost
                    if operation not in operations:
                        operations.append(operation)
    header = f"{'server':<14}{'command':<22}" + "".join(f"{f'{s:,} entries':>18}" for s in sizes)
    print(header + f"{'ratio':>10}")
    for name, _ in running:
        for operation in operations:
            costs = [table[(name, operation, size)] for size in sizes]
            cells = "".join(f"{cost:>15.2f} µs" for cost in costs)
            print(f"{name:<14}{operation:<22}{cells}{costs[-1] / costs[0]:>10.2f}")


if __name__ == "__main__":
    main()
