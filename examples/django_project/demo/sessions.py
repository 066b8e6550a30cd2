"""Django's cache session engine (``django.contrib.sessions.backends.cache``) for a cache
that may be down: ``SESSION_ENGINE = "demo.sessions"``.

With ``IGNORE_EXCEPTIONS`` a cache whose server is down misses every read and drops every
write. Django's engine takes that for trouble of its own: ``create()`` believes each new
key collides and tries another, up to 10,000 times (each try two failing cache calls), so
the request hangs until the store is back, or ends in ``RuntimeError`` (a 500); and saving
a session that was read before the store went down (or restarted empty) raises
``UpdateError`` (Django answers 400). Here a session that cannot be stored is not stored,
and the request is served: the visitor starts a new session on a later request. A genuine
collision (the key exists) still gets a new key.
"""

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore


class SessionStore(CacheSessionStore):
    def create(self) -> None:
        for _ in range(10):
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                if self.exists(self._session_key):
                    continue  # somebody else's session: try another key
                # nothing is stored under the key: the cache is down, serve unstored
            self.modified = True
            return
        raise RuntimeError("Unable to create a new session key.")

    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create)
        except UpdateError:
            # The session was there when the request began and is gone now: the store is
            # down or restarted empty (or a concurrent request logged out). Keep nothing:
            # the stored session is not resurrected, the next request starts a new one.
            pass
