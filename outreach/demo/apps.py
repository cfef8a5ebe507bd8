from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "outreach.demo"
    verbose_name = "演示数据"
