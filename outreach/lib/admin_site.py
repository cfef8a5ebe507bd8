"""The admin site: Django's, with its side bar worked out once per set of permissions rather than on every page.

Every admin page lists the models the user may reach (the side bar, ``get_app_list``): for each of some thirty
registered models Django asks the model admin for the module, view, add, change and delete permissions and
reverses two URLs, then renders the list; 8–10 ms of a 30 ms list page. What it finds depends only on what the
user is permitted (our model admins decide from ``user.has_perm``, ``is_active``, ``is_staff`` and
``is_superuser``), so it is kept per process, keyed by exactly that plus the language and the URL prefix: a
permission given or taken away is a new key, seen on the next page. A model admin whose ``has_*_permission``
looked at anything else (the request, the user's area) would need that in ``permission_key``.
"""

from collections import OrderedDict

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.urls import get_script_prefix
from django.utils.translation import get_language

#: How many permission sets (roles, and users with permissions given in the admin) are kept per process, and
#: how many rendered side bars (one per permission set and current model, about 10 KB each).
CACHED_KEYS = 256
CACHED_SIDEBARS = 512


class _Bounded(OrderedDict):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def remember(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class OutreachAdminSite(AdminSite):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._app_dicts = _Bounded(CACHED_KEYS)
        self.rendered_sidebars = _Bounded(CACHED_SIDEBARS)

    def permission_key(self, request):
        """Everything the side bar depends on; cached on the request."""
        key = getattr(request, "_outreach_permission_key", None)
        if key is None:
            user = request.user
            key = (
                self.name,
                get_language(),
                get_script_prefix(),
                user.is_active,
                user.is_staff,
                user.is_superuser,
                frozenset(user.get_all_permissions()) if user.is_active else frozenset(),
            )
            request._outreach_permission_key = key
        return key

    def _build_app_dict(self, request, label=None):
        key = (self.permission_key(request), label)
        found = self._app_dicts.get(key)
        if found is None:
            found = self._app_dicts.remember(key, super()._build_app_dict(request, label))
        # Copies: Django's app_index view sorts the models in place.
        return {
            app_label: {**app, "models": [dict(model) for model in app["models"]]} for app_label, app in found.items()
        }


class OutreachAdminConfig(AdminConfig):
    default_site = "outreach.lib.admin_site.OutreachAdminSite"
