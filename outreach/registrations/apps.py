from django.apps import AppConfig


class RegistrationsConfig(AppConfig):
    name = "outreach.registrations"
    verbose_name = "反诈App注册"
