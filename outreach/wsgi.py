"""WSGI entry point for gunicorn (and runserver): refuses to serve without a SECRET_KEY when DEBUG is off."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - read after get_wsgi_application() has set Django up

if settings.SECRET_KEY_MISSING:
    raise ImproperlyConfigured(settings.SECRET_KEY_MISSING_MESSAGE)
