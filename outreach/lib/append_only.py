"""Records that are written once and never changed: the access log and issued bulletins.

Three layers refuse a change, so no path of the ORM or of SQL gets through: ``AppendOnlyModel`` refuses
``save()`` of a stored row and ``delete()``; its manager's querysets refuse ``update()``, ``delete()`` and
``bulk_update()``; and ``append_only_triggers`` (a migration operation) installs database triggers that
refuse UPDATE and DELETE on PostgreSQL and SQLite alike. The one change let through is a foreign key to a
deleted login being set to NULL (``on_delete=SET_NULL``), so deleting an account keeps its log lines.
"""

from django.db import migrations, models


class AppendOnlyError(PermissionError):
    """A change to an append-only record."""


class AppendOnlyQuerySet(models.QuerySet):
    def _refuse(self, *args, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.verbose_name}只能新增，不能修改或删除")

    update = delete = bulk_update = _refuse


class AppendOnlyModel(models.Model):
    """A model whose rows are only ever added."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name}只能新增，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name}不能删除")


def _columns(model, exclude=()):
    return [f.column for f in model._meta.local_concrete_fields if f.column not in exclude]


def _install(app_label, model_name, nullable_fk):
    def install(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        table = model._meta.db_table
        quote = schema_editor.quote_name
        vendor = schema_editor.connection.vendor
        others = _columns(model, exclude=(nullable_fk,) if nullable_fk else ())
        message = f"{table} is append-only"
        if vendor == "postgresql":
            allowed = "FALSE"
            if nullable_fk:
                same = " AND ".join(f"NEW.{quote(c)} IS NOT DISTINCT FROM OLD.{quote(c)}" for c in others)
                allowed = f"(TG_OP = 'UPDATE' AND NEW.{quote(nullable_fk)} IS NULL AND {same})"
            schema_editor.execute(
                f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
                BEGIN
                    IF {allowed} THEN RETURN NEW; END IF;
                    RAISE EXCEPTION '{message}';
                END $$ LANGUAGE plpgsql"""
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {quote(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )
        elif vendor == "sqlite":
            # outreach_flushing() is registered by outreach.lib.sqlite: 1 only while ``flush`` empties the tables.
            allowed = "outreach_flushing()"
            if nullable_fk:
                same = " AND ".join(f"NEW.{quote(c)} IS OLD.{quote(c)}" for c in others)
                allowed += f" OR (NEW.{quote(nullable_fk)} IS NULL AND {same})"
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {quote(table)} WHEN NOT ({allowed}) "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {quote(table)} WHEN NOT outreach_flushing() "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )

    return install


def _remove(app_label, model_name):
    def remove(apps, schema_editor):
        table = apps.get_model(app_label, model_name)._meta.db_table
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {schema_editor.quote_name(table)}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")

    return remove


def append_only_triggers(app_label: str, model_name: str, nullable_fk: str = "") -> migrations.RunPython:
    """A migration operation installing the triggers that refuse UPDATE and DELETE on the model's table.

    ``nullable_fk`` names the column of a ``SET_NULL`` foreign key that may still become NULL.
    """
    return migrations.RunPython(_install(app_label, model_name, nullable_fk), _remove(app_label, model_name))
