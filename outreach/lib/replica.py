"""Reads of the dashboard pages from a read replica, when one is configured (DATABASE_REPLICA_URL).

PostgreSQL stays the one source of truth: every write, every form, import, export and the phone pages use
``default``. Only GET requests under the dashboard prefix (rankings, trends, chase lists: read-only pages
over the summary tables) send their reads to ``replica``. A replica lags the primary by a moment, which a
ranking page can take and a form that just saved cannot. Inside a transaction reads stay on ``default``
so a service never reads older rows than it writes.

A replica that is down never shows as an error page: the middleware checks the replica's connection before it
marks a request (the same ``SELECT 1`` Django's health check would make) and, when that fails, serves the page
from the primary and leaves the replica alone for ``REPLICA_RETRY_SECONDS``; a replica that fails in the middle
of a request (stopped, or a query cancelled by a conflict with recovery) has that GET run once more on the
primary. ``make drill`` stops a real replica under load to hold this.

Nothing here imports or names an app: the middleware marks the request, the router looks at the mark, and
the apps always read from the primary are the setting ``REPLICA_PRIMARY_ONLY_APPS``.
"""

import logging
import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections

REPLICA = "replica"
_use_replica: ContextVar[bool] = ContextVar("use_replica", default=False)
# Until when (time.monotonic()) this process leaves a failed replica alone; one value per process is enough:
# every worker finds out on its own within one request.
_down_until = 0.0
logger = logging.getLogger(__name__)


def replica_configured() -> bool:
    return REPLICA in connections.databases


def replica_paths() -> tuple[str, ...]:
    return tuple(getattr(settings, "REPLICA_READ_PATHS", ("/dashboard/",)))


def retry_seconds() -> float:
    return float(getattr(settings, "REPLICA_RETRY_SECONDS", 5))


def replica_down() -> bool:
    """True while a recent failure keeps the dashboards on the primary."""
    return time.monotonic() < _down_until


def mark_replica_down(reason: object) -> None:
    """Send dashboard reads to the primary for ``REPLICA_RETRY_SECONDS`` and drop the broken connection."""
    global _down_until
    if not replica_down():
        logger.warning("只读副本不可用，看板暂时改读主库（%s 秒后再试）：%s", retry_seconds(), reason)
    _down_until = time.monotonic() + retry_seconds()
    try:
        connections[REPLICA].close()
    except (DatabaseError, InterfaceError):
        pass  # the connection is already gone, which is what closing it wanted


def replica_available() -> bool:
    """Whether the replica answers now: a reused connection passes a ``SELECT 1``, a new one connects.

    Costs one round trip per dashboard request, the health check ``conn_health_checks`` makes anyway (it is
    then marked done for the request). A failure marks the replica down; while it is down nothing is tried.
    """
    if replica_down():
        return False
    connection = connections[REPLICA]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except (DatabaseError, InterfaceError) as exc:
        mark_replica_down(exc)
        return False
    return True


class ReplicaReadMiddleware:
    """Marks read-only requests to the dashboard pages so their queries go to the replica, when it answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        wanted = (
            request.method in ("GET", "HEAD")
            and request.path.startswith(replica_paths())
            and replica_configured()
            and replica_available()
        )
        token = _use_replica.set(wanted)
        try:
            return self.get_response(request)
        finally:
            _use_replica.reset(token)

    def process_exception(self, request, exception):
        """A database error while reading from the replica: run the (read-only) view once more on the primary."""
        if not _use_replica.get() or not isinstance(exception, (DatabaseError, InterfaceError)):
            return None
        replica_available_after_error(exception)  # marks the replica down when it no longer answers
        logger.warning("看板页面 %s 读只读副本出错，改由主库重新读取：%s", request.path, exception)
        _use_replica.set(False)  # __call__ resets the mark when the request ends
        match = request.resolver_match
        response = match.func(request, *match.args, **match.kwargs)
        if callable(getattr(response, "render", None)):
            response = response.render()
        return response


def replica_available_after_error(exception) -> bool:
    """After an error on the replica: close its connection and check it again (marks it down if it is)."""
    try:
        connections[REPLICA].close()
    except (DatabaseError, InterfaceError):
        pass
    if replica_down():
        return False
    connection = connections[REPLICA]
    try:
        connection.ensure_connection()
    except (DatabaseError, InterfaceError):
        mark_replica_down(exception)
        return False
    return True


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
