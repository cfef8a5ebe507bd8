"""django-axes' lockout check, tolerant of logins made in code, and the password backend."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q


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
    The user a session names is loaded with whether they have any permission or group at all (two EXISTS in
    the same query), so the usual user, whose permissions all come from the role, costs no second query.
    """

    def get_user(self, user_id):
        UserModel = get_user_model()
        given = Exists(UserModel.user_permissions.through.objects.filter(user=OuterRef("pk")))
        grouped = Exists(UserModel.groups.through.objects.filter(user=OuterRef("pk")))
        try:
            user = UserModel._default_manager.annotate(has_given_permissions=given | grouped).get(pk=user_id)
        except UserModel.DoesNotExist:
            return None
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
