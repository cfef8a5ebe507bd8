from django.apps import AppConfig


class DataioConfig(AppConfig):
    name = "outreach.dataio"
    verbose_name = "数据导入导出"
    default_auto_field = "django.db.models.BigAutoField"
