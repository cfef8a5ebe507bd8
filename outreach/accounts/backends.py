"""django-axes' lockout check, tolerant of logins made in code."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a username locked at the request's address (django-axes).

    Every login over the web passes its request; ``authenticate()`` called in code without one (the test
    client's ``login``, a shell) has no address to lock and is passed on to the password backends.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
