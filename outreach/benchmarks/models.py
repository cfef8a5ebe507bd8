"""A record of each city-scale dataset built for the benchmark (also the marker that makes a reset safe)."""

from django.db import models


class CityBuild(models.Model):
    """One run of ``build_city``: what it was asked to build, what it wrote and how long it took."""

    seed = models.PositiveIntegerField("随机种子")
    households = models.PositiveIntegerField("住户数")
    members = models.PositiveIntegerField("党员数")
    visits = models.PositiveIntegerField("走访记录数")
    report_days = models.PositiveSmallIntegerField("通报天数")
    counts = models.JSONField("各表写入行数", default=dict, blank=True)
    seconds = models.FloatField("用时（秒）", null=True, blank=True)
    database = models.CharField("数据库", max_length=100, blank=True)
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "基准数据集"
        verbose_name_plural = "基准数据集"
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.households:,} 户 / {self.visits:,} 次走访（种子 {self.seed}）"

    @property
    def finished(self) -> bool:
        return self.finished_at is not None
