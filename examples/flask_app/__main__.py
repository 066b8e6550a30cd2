"""``python -m examples.flask_app``: serve the example with waitress (threads share one store)."""

from __future__ import annotations

import argparse
import signal
import sys

from waitress import serve

from . import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    app = create_app()
    # SIGTERM exits like Ctrl-C, through atexit, which closes the store's connections
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(app, host=args.host, port=args.port, threads=args.threads)


if __name__ == "__main__":
    main()
