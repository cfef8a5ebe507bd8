from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "outreach.accounts"
    verbose_name = "账号与权限"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {"User": {"town": "town", "county": "county", "member": "pk"}}
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    # County admins create and import their own county's staff, grid workers and members (the user admin
    # refuses city-level roles and other counties).
    role_permissions = {
        "User": {"city": "view add change import export", "county": "view add change import export"},
        "AccessLog": {"city": "view"},
    }

    def ready(self):
        # Registers the system checks of every app's scope_paths and role_permissions.
        from outreach.accounts import permissions, scoping  # noqa: F401
