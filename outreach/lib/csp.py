"""django-csp's middleware, with the policy header built once per process for the responses that change nothing.

``CSPMiddleware.process_response`` (django-csp 4) rebuilds the header from the settings on every response
(``asdict`` of its parts, then ``build_policy``), about 0.8 ms in a cProfile of each visit POST. A response with no
nonce asked for and no per-view policy (``@csp_update`` and the like set ``_csp_*`` attributes) gets the header
built from the settings alone, which is the same string each time: it is built once and kept until a CSP setting
changes (``setting_changed``, as tests change them). Anything else goes through the library unchanged.
"""

import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_PER_VIEW = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_HEADERS = (
    (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt", False),
    (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro", True),
)
_built: dict[bool, str] = {}


def _policy(report_only: bool) -> str:
    found = _built.get(report_only)
    if found is None:
        found = _built[report_only] = build_policy(report_only=report_only)
    return found


@receiver(setting_changed, dispatch_uid="outreach_csp_setting_changed")
def _forget(setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _built.clear()


class CSPMiddleware(LibraryCSPMiddleware):
    """The library's middleware; the same headers, built once for a response without a nonce or a view's policy."""

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, name) for name in _PER_VIEW):
            return super().process_response(request, response)
        debug_codes = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)
        if response.status_code in debug_codes and settings.DEBUG:
            return response
        for header, setting, exempt, report_only in _HEADERS:
            policy = _policy(report_only)
            if not policy or getattr(response, exempt, False) is not False or header in response:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        # As the library: once the header is written, asking for a nonce is an error, not a silent no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
