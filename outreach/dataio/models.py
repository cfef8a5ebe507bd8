"""Background import and export jobs: status, progress, counts and errors the user can come back to."""

from django.conf import settings
from django.db import models


class Job(models.Model):
    """Fields shared by import and export jobs."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "进行中"
        PREVIEW = "preview", "待确认"
        DONE = "done", "已完成"
        REFUSED = "refused", "有错误，未写入"
        FAILED = "failed", "失败"
        CANCELLED = "cancelled", "已取消"

    kind = models.CharField("类型", max_length=20)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="用户",
    )
    county = models.ForeignKey(
        "places.County", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="县（市、区）"
    )
    file_name = models.CharField("文件名", max_length=255, blank=True)
    stored_path = models.CharField("存放路径", max_length=500, blank=True, help_text="不在网站可访问的目录下")
    phase = models.CharField("阶段", max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField("进度（%）", default=0)
    rows = models.PositiveIntegerField("行数", default=0)
    message = models.TextField("说明", blank=True)
    heartbeat = models.DateTimeField("最近心跳", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ImportJob(Job):
    """One uploaded file: checked first (preview), then written in one transaction when confirmed."""

    options = models.JSONField("选项", default=dict, blank=True)
    new = models.PositiveIntegerField("新增", default=0)
    updated = models.PositiveIntegerField("更新", default=0)
    unchanged = models.PositiveIntegerField("未变", default=0)
    errors = models.JSONField("错误", default=list, blank=True)
    preview = models.JSONField("预览", default=dict, blank=True)
    confirmed = models.BooleanField("已确认写入", default=False)

    class Meta(Job.Meta):
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"

    def __str__(self):
        return f"{self.file_name}（{self.get_status_display()}）"


class ExportJob(Job):
    """One export written to a file in the background, downloaded from its progress page."""

    filters = models.JSONField("筛选条件", default=dict, blank=True)

    class Meta(Job.Meta):
        verbose_name = "导出任务"
        verbose_name_plural = "导出任务"

    def __str__(self):
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"
