"""Checks on visits made in the field: integrity flags for county staff and call-back checks (回访抽查)."""

from django.conf import settings
from django.db import models

from outreach.places.models import Village
from outreach.visits.models import IntegrityStatus, Visit


class IntegrityFlag(models.Model):
    """Something about a visit that county staff should look at; found by ``services.scan_visits``."""

    class Kind(models.TextChoices):
        RAPID = "rapid", "短时间内走访多户"
        SAME_SIGNATURE = "same_signature", "不同住户签名图片相同"
        OUTSIDE_DATES = "outside_dates", "不在活动日期内"
        NIGHT = "night", "夜间走访"
        FAR_AWAY = "far_away", "位置远离本村"

    class Status(models.TextChoices):
        # The labels a visit's rolled-up status (``Visit.integrity``) shows too.
        OPEN = IntegrityStatus.OPEN.value, IntegrityStatus.OPEN.label
        CLEARED = IntegrityStatus.CLEARED.value, IntegrityStatus.CLEARED.label
        CONFIRMED = IntegrityStatus.CONFIRMED.value, IntegrityStatus.CONFIRMED.label

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="integrity_flags", verbose_name="走访记录")
    kind = models.CharField("疑点类型", max_length=20, choices=Kind.choices)
    detail = models.CharField("说明", max_length=200, blank=True)
    status = models.CharField("核查状态", max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="核查人",
    )
    reviewed_at = models.DateTimeField("核查时间", null=True, blank=True)
    review_note = models.CharField("核查意见", max_length=200, blank=True)
    created_at = models.DateTimeField("发现时间", auto_now_add=True)

    class Meta:
        verbose_name = "走访疑点"
        verbose_name_plural = "走访疑点"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "kind"],
                name="integrityflag_one_per_kind",
                violation_error_message="该走访记录已有同类疑点",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()}：{self.visit}"


class PendingIntegrityCheck(models.Model):
    """A village and day with visits not yet checked: marked when a visit arrives, emptied by the check job."""

    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="+", verbose_name="村（社区）")
    day = models.DateField("走访日期")
    marked_at = models.DateTimeField("标记时间", auto_now_add=True)

    class Meta:
        verbose_name = "待检查疑点的走访日"
        verbose_name_plural = "待检查疑点的走访日"
        constraints = [
            models.UniqueConstraint(
                fields=["village", "day"],
                name="pendingintegrity_one_per_village_day",
                violation_error_message="该村该日已标记待检查",
            )
        ]

    def __str__(self):
        return f"{self.village_id} {self.day}"


class CallbackCheck(models.Model):
    """One visit drawn for a call-back (回访抽查) and the resident's answer."""

    class Result(models.TextChoices):
        PENDING = "pending", "待回访"
        CONFIRMED = "confirmed", "居民确认"
        DENIED = "denied", "居民否认"
        UNREACHABLE = "unreachable", "联系不上"

    visit = models.OneToOneField(Visit, on_delete=models.CASCADE, related_name="callback", verbose_name="走访记录")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="callback_checks",
        verbose_name="被抽查人",
        help_text="录入这条走访的人",
    )
    result = models.CharField("回访结果", max_length=12, choices=Result.choices, default=Result.PENDING, db_index=True)
    note = models.CharField("回访备注", max_length=200, blank=True)
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name="抽取人"
    )
    drawn_at = models.DateTimeField("抽取时间", auto_now_add=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="回访人",
    )
    checked_at = models.DateTimeField("回访时间", null=True, blank=True)

    class Meta:
        verbose_name = "回访抽查"
        verbose_name_plural = "回访抽查"
        ordering = ["-drawn_at", "-id"]
        indexes = [models.Index(fields=["worker", "result"], name="callback_worker_result_idx")]

    def __str__(self):
        return f"回访：{self.visit}"
