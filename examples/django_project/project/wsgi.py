"""The WSGI application, e.g. ``waitress-serve --threads 16 project.wsgi:application``
(from examples/django_project)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_wsgi_application()
