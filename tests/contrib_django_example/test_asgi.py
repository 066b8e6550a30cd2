"""The example project's ASGI application (project/asgi.py), in a subprocess: 200 concurrent
requests to the async view on one event loop (asgiref's ApplicationCommunicator stands for
the ASGI server), whose commands share one connection, then a sync view through the thread
Django runs it in."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import RedisServer

from .harness import PROJECT, ROOT

SCRIPT = r"""
import asyncio, json, os, socket
from asgiref.testing import ApplicationCommunicator
from project.asgi import application

async def get(path):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "scheme": "http", "headers": [(b"host", b"127.0.0.1")],
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234)}
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(10)
    body = await app.receive_output(10)
    await app.wait(10)
    return start["status"], json.loads(body["body"])

async def main():
    replies = await asyncio.gather(*(get("/async-hits") for _ in range(200)))
    port = int(os.environ["STORE_URL"].rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"INFO clients\r\n")
        info = sock.recv(65536).decode()
    connections = int(info.split("connected_clients:")[1].split()[0]) - 1
    replies += [await get("/product/7") for _ in range(2)]
    print(json.dumps({"replies": replies, "connections": connections}))

asyncio.run(main())
"""


def test_asgi_application_serves_the_async_view_on_one_loop(
    restartable_server: RedisServer,
) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "STORE_URL": restartable_server.url + "/0",
        "STORE_MAX_CONNECTIONS": "8",
        "PYTHONPATH": os.pathsep.join([str(PROJECT), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    replies = result["replies"]
    # the 200 concurrent requests' commands shared one pipelined connection
    assert result["connections"] == 1
    assert all(status == 200 for status, _ in replies), replies
    hits = sorted(body["hits"] for _, body in replies[:200])
    assert hits == list(range(1, 201))  # aincr is atomic, on one loop too
    assert [body["hit"] for _, body in replies[200:]] == [False, True]
