"""The seam: the only client code that imports asyncio, socket, ssl, select or threading.

Rules (docs/ARCHITECTURE.md, "Layers"):

* Each Async* class (and ``async_*`` function) has its Sync* twin (plain function) right
  after it, in the same module, with the same method names and signatures: code in
  ``_async`` written against the Async* names becomes blocking code when
  ``utils/gen_sync.py`` renames them.
* Only what really differs between asyncio and blocking code lives here; protocol logic
  never does. Past a few hundred lines per module, something protocol-level leaked in.
* The seam depends on ``store.errors`` alone: never on ``store._async``, ``store._sync``
  or ``store.server`` (the PulsarDS launchers live in ``server/embedded.py``);
  tests/test_layers.py checks the last.
* Import from the submodules: ``streams`` (connected byte streams, TLS, socket tuning),
  ``synchronization`` (thread locks, mutexes, events, semaphores, sleep) and ``workers``
  (background runners, handler calls). The package itself exports nothing.
"""
