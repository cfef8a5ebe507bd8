from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "outreach.dashboards"
    verbose_name = "排名与通报"
    # How a user's area limits each model (see outreach.accounts.scoping): a 督办单 is its unit's.
    scope_paths = {
        "SupervisionOrder": {"village": "village", "town": "town", "county": "county"},
        "SupervisionStep": {"village": "order__village", "town": "order__town", "county": "order__county"},
    }
    # What each role may do (see outreach.accounts.permissions): steps are only ever added.
    role_permissions = {
        "SupervisionOrder": {"city": "view add change", "county": "view add change", "town": "view"},
        "SupervisionStep": {"city": "view add", "county": "view add", "town": "view add"},
    }

    def ready(self):
        from outreach.dashboards import receivers  # noqa: F401 - connects the signal receivers
