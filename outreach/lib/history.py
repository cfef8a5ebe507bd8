"""django-simple-history, without a new manager class on every history row.

``HistoryDescriptor.__get__`` (simple_history 3.13) builds its manager with
``HistoryManager.from_queryset(HistoricalQuerySet)``, a new class made with ``type()`` and filled through
``inspect.getmembers``, each time ``instance.history`` or ``Model.history`` is read, and
``create_historical_record`` reads it for every row it writes. On the phone's visit POST that was about a
twentieth of the request's CPU. ``HistoryManager`` here makes that class once per queryset class; the manager
objects themselves are still made per access, as the library makes them, so nothing else changes.
"""

import functools

from simple_history.manager import HistoryManager as LibraryHistoryManager


class HistoryManager(LibraryHistoryManager):
    """The library's history manager whose ``from_queryset`` class is made once and reused."""

    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class, class_name=None):
        return super().from_queryset(queryset_class, class_name)
