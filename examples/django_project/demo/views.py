"""Four views, one per way of using the cache. With IGNORE_EXCEPTIONS on, each of them keeps
answering while the store is down: reads miss, writes are dropped."""

import hashlib
import time

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_page


def _expensive(number: int) -> str:
    """Stands for a slow query or a remote call."""
    return hashlib.sha256(str(number).encode() * 1000).hexdigest()


def product(request: HttpRequest, number: int) -> JsonResponse:
    """The low-level API: computed once, then served from the cache for 60 s."""
    computed = []

    def compute() -> str:
        computed.append(True)
        return _expensive(number)

    digest = cache.get_or_set(f"product:{number}", compute, timeout=60)
    return JsonResponse({"number": number, "digest": digest, "hit": not computed})


@cache_page(30)
def page(request: HttpRequest) -> JsonResponse:
    """The whole response is cached for 30 s: the same ``generated`` until it expires."""
    return JsonResponse({"generated": time.time()})


def visits(request: HttpRequest) -> JsonResponse:
    """Counts the visits of one browser in its session (stored in the cache)."""
    count = request.session.get("visits", 0) + 1
    request.session["visits"] = count
    return JsonResponse({"visits": count})


async def async_hits(request: HttpRequest) -> JsonResponse:
    """The native async API: no thread is involved under ASGI. Under WSGI Django runs this
    view in an event loop of its own per request, and the cache follows it there."""
    key = "async-hits"
    await cache.aadd(key, 0, timeout=None)  # no-op once the counter exists
    try:
        hits = await cache.aincr(key)
    except ValueError:  # the counter is gone (evicted, or the store is down)
        hits = None
    last = await cache.aget("async-last")
    await cache.aset("async-last", time.time(), timeout=60)
    return JsonResponse({"hits": hits, "previous": last})
