"""Settings of the example project: StoreCache is the default cache, and the sessions live
in it. Everything the deployment decides comes from the environment:

    STORE_URL                 the store, e.g. redis://127.0.0.1:6379/0 (default)
    STORE_MAX_CONNECTIONS     the process-wide pool's limit (default 8)
    STORE_IGNORE_EXCEPTIONS   1 (default): a cache that is down misses and drops writes
                              instead of failing the request; 0: errors propagate
    DJANGO_SECRET_KEY         signs the session cookie (set it in production)
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["django.contrib.sessions", "demo"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

# no database: the sessions are in the cache
DATABASES: dict[str, dict[str, str]] = {}

CACHES = {
    "default": {
        "BACKEND": "store.contrib.django.StoreCache",
        "LOCATION": os.environ.get("STORE_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": "demo",
        "OPTIONS": {
            # one pool per process, shared by every thread's cache object
            "max_connections": int(os.environ.get("STORE_MAX_CONNECTIONS", "8")),
            "socket_timeout": 1,
            # a server that is down: reads miss and writes drop; after a failure the cache
            # skips the server for DOWN_RETRY_INTERVAL seconds instead of each call waiting
            # for its own connect attempts
            "IGNORE_EXCEPTIONS": os.environ.get("STORE_IGNORE_EXCEPTIONS", "1") == "1",
            "DOWN_RETRY_INTERVAL": 1,
        },
    }
}

# Django's cache session engine, made to survive a cache that is down (see demo/sessions.py)
SESSION_ENGINE = "demo.sessions"

USE_TZ = True
