"""outreach.lib.csp: the header built once gives what django-csp's middleware gives, per-view policies and nonces too."""

import pytest
from csp.constants import NONCE, SELF
from csp.decorators import csp_exempt, csp_update
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from outreach.lib.csp import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _plain(request):
    return HttpResponse("ok")


@csp_update({"img-src": "https://tiles.example"})
def _updated(request):
    return HttpResponse("ok")


@csp_exempt()
def _exempt(request):
    return HttpResponse("ok")


def _nonce(request):
    return HttpResponse(str(request.csp_nonce))


def _headers(middleware_class, view, path="/m/"):
    request = RequestFactory().get(path)
    response = middleware_class(view)(request)
    return {name: response.get(name) for name in HEADERS}


@pytest.mark.parametrize("view", [_plain, _updated, _exempt])
def test_it_answers_the_headers_django_csp_answers(view):
    assert _headers(CSPMiddleware, view) == _headers(LibraryCSPMiddleware, view)


def test_it_puts_the_requested_nonce_in_the_header():
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"script-src": [SELF, NONCE]}}):
        response = CSPMiddleware(_nonce)(RequestFactory().get("/m/"))
        assert f"'nonce-{response.content.decode()}'" in response["Content-Security-Policy"]
        # The next response asks for no nonce: the header built once, without one.
        assert "nonce" not in _headers(CSPMiddleware, _plain)["Content-Security-Policy"]


def test_it_follows_a_changed_setting_and_its_excluded_prefixes():
    before = _headers(CSPMiddleware, _plain)["Content-Security-Policy"]
    changed = {"DIRECTIVES": {"default-src": ["'none'"]}, "EXCLUDE_URL_PREFIXES": ["/skip/"]}
    with override_settings(CONTENT_SECURITY_POLICY=changed, CONTENT_SECURITY_POLICY_REPORT_ONLY=changed):
        assert _headers(CSPMiddleware, _plain) == _headers(LibraryCSPMiddleware, _plain)
        assert _headers(CSPMiddleware, _plain)["Content-Security-Policy"] == "default-src 'none'"
        assert _headers(CSPMiddleware, _plain, "/skip/x") == {name: None for name in HEADERS}
    assert _headers(CSPMiddleware, _plain)["Content-Security-Policy"] == before


def test_it_refuses_a_nonce_asked_for_after_the_header():
    request = RequestFactory().get("/m/")
    CSPMiddleware(_plain)(request)
    with pytest.raises(Exception, match="csp_nonce"):
        str(request.csp_nonce)
