from django.apps import AppConfig


class MobileConfig(AppConfig):
    name = "outreach.mobile"
    verbose_name = "手机走访与核查"
