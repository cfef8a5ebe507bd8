"""Reads of the dashboard pages from a read replica, when one is configured (DATABASE_REPLICA_URL).

PostgreSQL stays the one source of truth: every write, every form, import, export and the phone pages use
``default``. Only GET requests under the dashboard prefix (rankings, trends, chase lists: read-only pages
over the summary tables) send their reads to ``replica``. A replica lags the primary by a moment, which a
ranking page can take and a form that just saved cannot. Inside a transaction reads stay on ``default``
so a service never reads older rows than it writes.

Nothing here imports or names an app: the middleware marks the request, the router looks at the mark, and
the apps always read from the primary are the setting ``REPLICA_PRIMARY_ONLY_APPS``.
"""

from contextvars import ContextVar

from django.conf import settings
from django.db import connections

REPLICA = "replica"
_use_replica: ContextVar[bool] = ContextVar("use_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.databases


def replica_paths() -> tuple[str, ...]:
    return tuple(getattr(settings, "REPLICA_READ_PATHS", ("/dashboard/",)))


class ReplicaReadMiddleware:
    """Marks read-only requests to the dashboard pages so their queries go to the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        wanted = request.method in ("GET", "HEAD") and request.path.startswith(replica_paths())
        token = _use_replica.set(wanted)
        try:
            return self.get_response(request)
        finally:
            _use_replica.reset(token)


class ReplicaRouter:
    """Reads of marked requests go to ``replica``; everything else (and all writes) to ``default``."""

    def db_for_read(self, model, **hints):
        if (
            _use_replica.get()
            and model._meta.app_label not in settings.REPLICA_PRIMARY_ONLY_APPS
            and replica_configured()
            and not connections["default"].in_atomic_block
        ):
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA  # the replica gets its tables by replication, never by migrate
