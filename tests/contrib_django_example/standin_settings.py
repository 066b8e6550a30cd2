"""The example project on django-redis instead of StoreCache: the fault test runs on it too,
as a check of the test and of demo/sessions.py (``DJANGO_SETTINGS_MODULE`` points here)."""

import os

from project.settings import *  # noqa: F403

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["STORE_URL"],
        "KEY_PREFIX": "demo",
        "OPTIONS": {
            # django-redis shares one pool per URL in the process, as StoreCache does; the
            # blocking pool waits for a free connection instead of raising
            "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
            "CONNECTION_POOL_KWARGS": {
                "max_connections": int(os.environ["STORE_MAX_CONNECTIONS"]),
                "timeout": 5,
            },
            "SOCKET_TIMEOUT": 1,
            "SOCKET_CONNECT_TIMEOUT": 1,
            "IGNORE_EXCEPTIONS": os.environ["STORE_IGNORE_EXCEPTIONS"] == "1",
        },
    }
}
