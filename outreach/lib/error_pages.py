"""Under ``DEBUG`` (``make run``), the app's own Chinese error pages instead of Django's technical ones.

With DEBUG on, Django answers an unknown URL or a ``Http404`` with its English "Page not found … Using the
URLconf" page, and an error with the traceback page. A clerk trying the app with ``make run`` should see
what production shows: ``404.html`` and ``500.html`` (403 already uses ``403.html``). The traceback still
goes to the console through the ``django.request`` logger. ``DJANGO_TECHNICAL_ERRORS=1`` keeps Django's
pages for a developer who wants them. Without DEBUG this middleware does nothing.
"""

from django.conf import settings
from django.template import loader


class FriendlyErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not settings.DEBUG or getattr(settings, "TECHNICAL_ERROR_PAGES", False):
            return response
        if response.status_code not in (404, 500) or not response.get("Content-Type", "").startswith("text/html"):
            return response
        if getattr(response, "streaming", False):
            return response
        template = loader.get_template(f"{response.status_code}.html")
        response.content = template.render({"request_path": request.path}, request)
        return response
