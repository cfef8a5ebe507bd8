"""Official 国家反诈中心 App figures per county (and town where given) as of a date."""

from django.db import models

from outreach.places.models import County, Town


class RegistrationReport(models.Model):
    """One line of the App bulletin: 安装注册人数 and 实名用户数 of an area on a date."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="registration_reports", verbose_name="县（市、区）"
    )
    town = models.ForeignKey(
        Town,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registration_reports",
        verbose_name="乡镇（街道）",
        help_text="县级数据留空",
    )
    as_of = models.DateField("数据日期", db_index=True)
    registered = models.PositiveIntegerField("安装注册人数")
    verified = models.PositiveIntegerField("实名用户数")
    population = models.PositiveIntegerField(
        "常住人口", null=True, blank=True, help_text="通报中给出时填写；县级留空时用县的普查常住人口"
    )
    source = models.CharField("来源", max_length=200, blank=True)
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "App注册通报数据"
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "App注册通报数据"
        ordering = ["-as_of", "county_id", "town_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "as_of"],
                condition=models.Q(town__isnull=True),
                name="registration_one_per_county_date",
                violation_error_message="该县（市、区）该日期已有通报数据",
            ),
            models.UniqueConstraint(
                fields=["town", "as_of"],
                condition=models.Q(town__isnull=False),
                name="registration_one_per_town_date",
                violation_error_message="该乡镇（街道）该日期已有通报数据",
            ),
            models.CheckConstraint(
                condition=models.Q(verified__lte=models.F("registered")),
                name="registration_verified_not_above_registered",
                violation_error_message="实名用户数不能大于安装注册人数",
            ),
        ]

    def __str__(self):
        area = self.town or self.county
        return f"{area} {self.as_of:%Y-%m-%d}"
