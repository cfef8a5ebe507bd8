"""Answers for limits the accounts area enforces deep inside a request."""

from django.http import JsonResponse
from django.template.response import TemplateResponse

from outreach.accounts.privacy import RevealLimitExceeded


class RevealLimitMiddleware:
    """A reveal past the hour's limit, raised from a search or the reveal button, answers 429 in Chinese."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RevealLimitExceeded):
            return None
        if request.headers.get("accept", "").startswith("application/json") or "autocomplete" in request.path:
            return JsonResponse({"error": str(exception)}, status=429)
        response = TemplateResponse(request, "429.html", {"message": str(exception)}, status=429)
        return response.render()
