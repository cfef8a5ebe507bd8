"""django-simple-history, without a new manager class on every history row, and its rows written by one statement.

``HistoryDescriptor.__get__`` (simple_history 3.13) builds its manager with
``HistoryManager.from_queryset(HistoricalQuerySet)``, a new class made with ``type()`` and filled through
``inspect.getmembers``, each time ``instance.history`` or ``Model.history`` is read, and
``create_historical_record`` reads it for every row it writes. On the phone's visit POST that was about a
twentieth of the request's CPU. ``HistoryManager`` here makes that class once per queryset class; the manager
objects themselves are still made per access, as the library makes them, so nothing else changes.
``HistoricalRecords`` here writes each history row with one cached INSERT instead of a compiled ``save()``.
"""

import functools

from django.db import connections, router, transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from simple_history.manager import HistoryManager as LibraryHistoryManager
from simple_history.models import HistoricalRecords as LibraryHistoricalRecords
from simple_history.signals import post_create_historical_record, pre_create_historical_record

from outreach.lib import batch


class HistoryManager(LibraryHistoryManager):
    """The library's history manager whose ``from_queryset`` class is made once and reused."""

    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class, class_name=None):
        return super().from_queryset(queryset_class, class_name)


class HistoricalRecords(LibraryHistoricalRecords):
    """The library's history, writing each history row with one cached ``INSERT … RETURNING``.

    ``create_historical_record`` is the library's, step for step (the history date, user and change reason,
    the same attributes, ``pre_create_historical_record`` / ``post_create_historical_record``, the history row's
    own ``pre_save`` / ``post_save``), except that the row is not saved through the ORM: compiling that INSERT of
    some thirty columns was a tenth of a phone's visit POST. The history model is read from the descriptor once,
    not through a manager built per row.
    """

    def finalize(self, sender, **kwargs):
        super().finalize(sender, **kwargs)
        if getattr(sender._meta, "simple_history_manager_attribute", None) == self.manager_name:
            self._history_model = sender.__dict__[self.manager_name].model

    def create_historical_record(self, instance, history_type, using=None):
        using = using if self.use_base_model_db else None
        history_date = getattr(instance, "_history_date", timezone.now())
        history_user = self.get_history_user(instance)
        history_change_reason = self.get_change_reason_for_object(instance, history_type, using)
        model = self._history_model
        attrs = {field.attname: getattr(instance, field.attname) for field in self.fields_included(instance)}
        if getattr(model, "history_relation", None) is not None:
            attrs["history_relation"] = instance
        history_instance = model(
            history_date=history_date,
            history_type=history_type,
            history_user=history_user,
            history_change_reason=history_change_reason,
            **attrs,
        )
        signal_kwargs = {
            "sender": model,
            "instance": instance,
            "history_date": history_date,
            "history_user": history_user,
            "history_change_reason": history_change_reason,
            "history_instance": history_instance,
            "using": using,
        }
        pre_create_historical_record.send(**signal_kwargs)
        if history_instance._history_m2m_fields:
            # The m2m history rows name this row's id: it must be known now.
            _insert(history_instance, using or router.db_for_write(model, instance=history_instance), held=False)
            self.create_historical_record_m2ms(history_instance, instance)
            post_create_historical_record.send(**signal_kwargs)
        else:
            # In ``batch.combined()`` (a visit POST) the row goes with the write's other INSERTs.
            _insert(
                history_instance,
                using or router.db_for_write(model, instance=history_instance),
                then=lambda: post_create_historical_record.send(**signal_kwargs),
            )


@functools.cache
def _insert_sql(model, using: str) -> tuple[str, tuple]:
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = tuple(f for f in meta.local_concrete_fields if not f.primary_key)
    sql = "INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
        quote(meta.pk.column),
    )
    return sql, fields


def _insert(obj, using: str, held: bool = True, then=None) -> None:
    """``obj.save()`` of a new row, with its signals, as one cached statement; held by an open
    ``batch.combined()`` unless ``held`` is false, and then ``obj.pk``, ``post_save`` and ``then()`` follow when
    the batch is sent."""
    model = type(obj)
    connection = connections[using]
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    sql, fields = _insert_sql(model, using)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]

    def inserted(values):
        obj.pk = values[0]
        obj._state.adding = False
        obj._state.db = using
        post_save.send(sender=model, instance=obj, created=True, raw=False, using=using, update_fields=None)
        if then is not None:
            then()

    if held:
        batch.insert(model._meta.db_table, sql, params, using, then=inserted)
        return
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted([cursor.fetchone()[0]])
