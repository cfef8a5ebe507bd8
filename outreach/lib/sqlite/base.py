"""Django's SQLite backend plus the one function the append-only triggers ask: is this a flush?

On SQLite the triggers of ``outreach.lib.append_only`` refuse UPDATE and DELETE unless
``outreach_flushing()`` answers 1, which it does only while ``flush`` empties every table (the analogue of
PostgreSQL's TRUNCATE, which row triggers do not see). Another program opening the file lacks the
function, so there the triggers refuse every change: they fail closed.
"""

from django.db.backends.sqlite3 import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list):
        self.connection.flushing = True
        try:
            super().execute_sql_flush(sql_list)
        finally:
            self.connection.flushing = False


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    flushing = False

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        conn.create_function("outreach_flushing", 0, lambda: int(self.flushing))
        return conn
