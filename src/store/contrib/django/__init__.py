"""Django integration: the cache backend ``store.contrib.django.StoreCache``.

```python
CACHES = {
    "default": {
        "BACKEND": "store.contrib.django.StoreCache",
        "LOCATION": "redis://127.0.0.1:6379/0",   # or a list: the first takes the writes
        "OPTIONS": {"max_connections": 20, "SERIALIZER": "json", "COMPRESSOR": "zstd"},
    }
}
```

See ``store.contrib.django.cache`` for the options and the semantics.
"""

from .cache import StoreCache, close_stores

__all__ = ["StoreCache", "close_stores"]
