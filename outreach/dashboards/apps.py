from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "outreach.dashboards"
    verbose_name = "排名与通报"

    def ready(self):
        from outreach.dashboards import receivers  # noqa: F401 - connects the signal receivers
