"""The client's address, read the same way by the lockout and the access log."""

from django.conf import settings


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` reverse proxies the address the outermost one saw.

    X-Forwarded-For is only believed as far as our own proxies wrote it: with one proxy the last entry,
    with two the one before it, and so on; anything further left is whatever the client claimed.
    """
    if request is None:
        return None
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")
