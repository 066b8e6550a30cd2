"""Run Django's own cache and cache-session tests against StoreCache (in a process of its
own: Django's settings are configured once per process).

``python django_suite.py <django tests dir> <store URL>``
(``DJANGO_SUITE_VERBOSITY=2`` lists every test); exit code 0 when every test
passed. The tests are Django's, unchanged: ``BaseCacheTests`` from ``tests/cache/tests.py``
on ``StoreCacheTests``, declared the way Django declares ``RedisCacheTests``, and the
``cache`` and ``cached_db`` session test classes of ``tests/sessions_tests/tests.py``.
"""

from __future__ import annotations

import os
import sys
import unittest
from typing import Any


def main(tests_dir: str, url: str) -> int:
    sys.path.insert(0, tests_dir)
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-suite-of-store",
        USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "cache",
            "sessions_tests",
        ],
        CACHES={"default": {"BACKEND": "store.contrib.django.StoreCache", "LOCATION": url}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()

    from cache.tests import BaseCacheTests, caches_setting_for_tests, redis_excluded_caches
    from django.test import TestCase, override_settings
    from django.test.runner import DiscoverRunner
    from sessions_tests.tests import (
        CacheDBSessionTests,
        CacheDBSessionWithTimeZoneTests,
        CacheSessionTests,
    )

    from store.errors import ResponseError

    # as Django's RedisCacheTests: no cull caches (a Redis-protocol server evicts by its own
    # maxmemory-policy), so the three cull tests skip themselves ("Culling isn't implemented.")
    @override_settings(
        CACHES=caches_setting_for_tests(
            base={"BACKEND": "store.contrib.django.StoreCache", "LOCATION": url},
            exclude=redis_excluded_caches,
        )
    )
    class StoreCacheTests(BaseCacheTests, TestCase):  # type: ignore[misc]
        # INCRBY on a value that is not an integer: the server's error reply
        incr_decr_type_error = ResponseError

    classes = [
        StoreCacheTests,
        CacheSessionTests,
        CacheDBSessionTests,
        CacheDBSessionWithTimeZoneTests,
    ]

    class Runner(DiscoverRunner):  # type: ignore[misc]
        def build_suite(self, *args: Any, **kwargs: Any) -> unittest.TestSuite:
            loader = unittest.TestLoader()
            return unittest.TestSuite(loader.loadTestsFromTestCase(cls) for cls in classes)

    failures = Runner(
        verbosity=int(os.environ.get("DJANGO_SUITE_VERBOSITY", "1")), interactive=False
    ).run_tests([])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
