from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "outreach.benchmarks"
    verbose_name = "基准测试"
