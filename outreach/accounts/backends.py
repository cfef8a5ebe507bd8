"""django-axes' lockout check, tolerant of logins made in code, and the password backend."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connections, router
from django.db.models import Q

from outreach.lib.rawrows import RowReader


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a username locked at the request's address (django-axes).

    Every login over the web passes its request; ``authenticate()`` called in code without one (the test
    client's ``login``, a shell) has no address to lock and is passed on to the password backends.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class PasswordBackend(ModelBackend):
    """Django's username-and-password backend, reading a user's admin-given permissions in one query, and none
    for a user who has none.

    ``ModelBackend`` asks twice (the user's own permissions, then their groups'); pages that check one
    permission the role does not grant would pay both on every request. The permissions are the same set.
    ``get_user`` (every request of a session) reads the user with one statement written out (the compiled
    queryset cost a visit POST more CPU than the query), with whether they have any admin-given permission or
    group at all (two EXISTS in the same statement): the usual user, whose permissions all come from the role,
    costs no second query. Django still checks the session hash against it.
    """

    _rows = None
    _statements: dict[str, str] = {}

    @classmethod
    def _statement(cls, using: str) -> str:
        if using in cls._statements:
            return cls._statements[using]
        model = get_user_model()
        if cls._rows is None:
            cls._rows = RowReader(model)
        quote = connections[using].ops.quote_name
        pk = quote(model._meta.pk.column)
        given = []
        for name in ("user_permissions", "groups"):
            field = model._meta.get_field(name)
            given.append(
                f"EXISTS (SELECT 1 FROM {quote(field.m2m_db_table())} m WHERE m.{quote(field.m2m_column_name())} = u.{pk})"
            )
        cls._statements[using] = (
            f"SELECT {cls._rows.columns('u', using)}, ({' OR '.join(given)})"
            f" FROM {quote(model._meta.db_table)} u WHERE u.{pk} = %s"
        )
        return cls._statements[using]

    def get_user(self, user_id):
        using = router.db_for_read(get_user_model())
        statement = self._statement(using)  # builds the row reader on first use
        found = self._rows.first(statement, [user_id], using)
        if found is None:
            return None
        user, (given,) = found
        user.has_given_permissions = bool(given)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                perms = Permission.objects.all()
            elif getattr(user_obj, "has_given_permissions", True) is False:
                perms = None  # loaded by get_user, known to have neither permissions nor groups
            else:
                perms = Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj)).distinct()
            user_obj._perm_cache = (
                set()
                if perms is None
                else {f"{app}.{codename}" for app, codename in perms.values_list("content_type__app_label", "codename")}
            )
        return user_obj._perm_cache
