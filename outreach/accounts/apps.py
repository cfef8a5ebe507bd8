from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "outreach.accounts"
    verbose_name = "账号与权限"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {"User": {"town": "town", "county": "county", "member": "pk"}}

    def ready(self):
        from outreach.accounts import scoping  # noqa: F401 - registers the check of every app's scope_paths
