"""Django's database sessions, read with one statement written out (``SESSION_ENGINE``).

Every request of a logged-in user loads its session; the compiled ``objects.get()`` cost a visit POST more CPU
than the query. Same table, same expiry rule (a session past ``expire_date`` is not found), same writes.
"""

import logging

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation
from django.db import connections, router
from django.utils import timezone

from outreach.lib.rawrows import RowReader


class SessionStore(DatabaseSessionStore):
    _rows = None

    def _get_session_from_db(self):
        model = self.model
        if SessionStore._rows is None:
            SessionStore._rows = RowReader(model)
        using = router.db_for_read(model)
        connection = connections[using]
        quote = connection.ops.quote_name
        meta = model._meta
        expire = meta.get_field("expire_date")
        try:
            found = self._rows.first(
                f"SELECT {self._rows.columns('s', using)} FROM {quote(meta.db_table)} s"
                f" WHERE s.{quote(meta.pk.column)} = %s AND s.{quote(expire.column)} > %s",
                [self.session_key, expire.get_db_prep_value(timezone.now(), connection)],
                using,
            )
            if found is None:
                raise model.DoesNotExist
        except (model.DoesNotExist, SuspiciousOperation) as e:
            if isinstance(e, SuspiciousOperation):
                logger = logging.getLogger(f"django.security.{e.__class__.__name__}")
                logger.warning(str(e))
            self._session_key = None
            return None
        return found[0]
