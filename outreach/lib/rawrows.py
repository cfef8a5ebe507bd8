"""Model instances from hand-written SQL, for the few statements on a hot path (the phone's visit POST).

Compiling a queryset costs a request more CPU than the round trip it sends (the ORM rebuilds, clones and
compiles the whole expression tree every time): a statement that every visit POST sends is written once as SQL
and its rows turned into instances here, with the converters the ORM would apply (SQLite's time zones and
booleans, decimals), so the instances are the ones a queryset would give.
"""

from django.db import connections


class RowReader:
    """Reads ``fields`` (names of ``model``'s concrete fields) from the first columns of a row into an instance.

    ``columns(alias)`` is the SELECT list for them; ``instance(row, using)`` the model instance (only these
    fields loaded, as ``.only()`` would), the rest of the row left to the caller.
    """

    def __init__(self, model, fields=None):
        meta = model._meta
        self.model = model
        # In the model's own order: ``from_db`` matches values to concrete fields by position.
        wanted = {meta.get_field(name).attname for name in fields} if fields else None
        self.fields = [f for f in meta.concrete_fields if wanted is None or f.attname in wanted]
        self.attnames = [f.attname for f in self.fields]
        self._converters = {}

    def columns(self, alias: str, using: str = "default") -> str:
        quote = connections[using].ops.quote_name
        return ", ".join(f"{quote(alias)}.{quote(f.column)}" for f in self.fields)

    def _for(self, using: str) -> list:
        found = self._converters.get(using)
        if found is None:
            connection = connections[using]
            found = []
            for field in self.fields:
                col = field.get_col(field.model._meta.db_table)
                chain = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
                found.append((col, chain))
            self._converters[using] = found
        return found

    def instance(self, row, using: str = "default"):
        connection = connections[using]
        values = list(row[: len(self.fields)])
        for i, (col, chain) in enumerate(self._for(using)):
            for converter in chain:
                values[i] = converter(values[i], col, connection)
        return self.model.from_db(using, self.attnames, values)

    def first(self, sql: str, params, using: str = "default"):
        """Run ``sql`` (its first columns ``columns()``) and return (instance, the rest of the row) for its first
        row, or None: the one-row read the session store and the user backend share."""
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return self.instance(row, using), row[len(self.fields) :]
