"""The ASGI application, e.g. ``uvicorn project.asgi:application`` (from
examples/django_project): there the async view's cache calls run on the server's loop."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_asgi_application()
