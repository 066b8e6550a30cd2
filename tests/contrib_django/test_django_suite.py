"""Django's own cache tests (``BaseCacheTests``) and its cache / cached_db session tests,
unchanged, against StoreCache on redis-server and on PulsarDS, each in a subprocess
(``django_suite.py``): Django's settings are configured once per process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .django_source import django_tests_dir

SUITE = Path(__file__).with_name("django_suite.py")
# BaseCacheTests (54 in Django 5.2: 51 run, 3 skip) and the three session classes (70
# each): 264. Fewer means tests were lost on the way (an import failed, a class was not
# collected)
MIN_TESTS = 250
# test_cull, test_zero_cull, test_cull_delete_when_store_empty: skipped by Django itself
# without a "cull" cache, as for its RedisCacheTests
EXPECTED_SKIPS = 3


@pytest.fixture(scope="module")
def tests_dir() -> Path:
    return django_tests_dir()


def run_suite(tests_dir: Path, url: str) -> None:
    # database 9: Django's tearDown flushes it, the other tests use database 0
    result = subprocess.run(
        [sys.executable, str(SUITE), str(tests_dir), f"{url}/9"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    ran = re.search(r"^Ran (\d+) tests? in ", output, re.MULTILINE)
    assert ran is not None, output[-3000:]
    assert int(ran.group(1)) >= MIN_TESTS, output[-3000:]
    skipped = re.search(r"^OK \(skipped=(\d+)\)", output, re.MULTILINE)
    assert skipped is not None and int(skipped.group(1)) == EXPECTED_SKIPS, output[-3000:]


def test_django_suite_on_redis(tests_dir: Path, redis_url: str) -> None:
    run_suite(tests_dir, redis_url)


def test_django_suite_on_pulsar(tests_dir: Path, pulsar_url: str) -> None:
    run_suite(tests_dir, pulsar_url)
