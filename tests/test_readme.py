"""The README's Python examples run, against the test redis-server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.sentinel_fixture import redis_sentinels as redis_sentinels  # the fixture

README = Path(__file__).resolve().parents[1] / "README.md"
CLUSTER_URL = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
SENTINEL_HOSTS = "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(python_blocks()) >= 3


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(index: int, redis_url: str, request: pytest.FixtureRequest) -> None:
    source = python_blocks()[index].replace("redis://127.0.0.1:6379/0", redis_url + "/10")
    if CLUSTER_URL in source:  # the examples' cluster is the test cluster
        cluster = request.getfixturevalue("redis_cluster")
        seeds = ",".join(f"127.0.0.1:{port}" for port in cluster.ports[:2])
        source = source.replace(CLUSTER_URL, f"redis+cluster://{seeds}")
    if SENTINEL_HOSTS in source:  # the examples' sentinels are the test's
        sentinels = request.getfixturevalue("redis_sentinels")
        source = source.replace(SENTINEL_HOSTS, f"redis+sentinel://{sentinels.hosts}/")
        source = source.replace("# ('127.0.0.1', 6379)", "#")
    exec(compile(source, f"README.md example {index + 1}", "exec"), {"__name__": "readme"})
