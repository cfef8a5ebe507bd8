from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "outreach.people"
    verbose_name = "党员与住户"
