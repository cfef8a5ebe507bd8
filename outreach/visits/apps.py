from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "outreach.visits"
    verbose_name = "入户走访"
