"""Summary tables the rankings read (kept up to date from signals) and the frozen 通报 (bulletins).

Rankings never scan the visits table on a request: they read one row per village (or party organization)
per campaign day, holding the figures *as of the end of that day* (cumulative). Rows exist for every day of
the campaign, so "as of D" is an equality lookup on an index. The rows are derived data: ``services`` rebuilds
them from the visits, households, assignments and members whenever a signal says a village changed.
"""

from django.conf import settings
from django.db import models

from outreach.campaigns.models import Campaign
from outreach.lib.append_only import AppendOnlyModel
from outreach.people.models import PartyOrganization
from outreach.places.models import County, Town, Village


class FieldFigures(models.Model):
    """The cumulative field figures shared by the village and organization summaries."""

    households = models.PositiveIntegerField("住户数", default=0)
    assigned = models.PositiveIntegerField("已包联户数", default=0)
    visited = models.PositiveIntegerField("有效入户户数", default=0)
    signed = models.PositiveIntegerField("签承诺书户数", default=0)
    visits = models.PositiveIntegerField("走访次数", default=0)
    qualified_visits = models.PositiveIntegerField("有效走访次数", default=0)
    app_installed = models.PositiveIntegerField("走访安装App人数", default=0)
    app_registered = models.PositiveIntegerField("走访注册人数", default=0)
    app_verified = models.PositiveIntegerField("走访实名人数", default=0)
    alerts_enabled = models.PositiveIntegerField("开启预警人数", default=0)

    class Meta:
        abstract = True


class VillageDaySummary(FieldFigures):
    """One village's field figures at the end of one campaign day (cumulative since the campaign began)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+", verbose_name="活动")
    day = models.DateField("日期")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）")
    town = models.ForeignKey(Town, on_delete=models.PROTECT, related_name="+", verbose_name="乡镇（街道）")
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name="村（社区）")

    class Meta:
        verbose_name = "村每日汇总"
        verbose_name_plural = "村每日汇总"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "village", "day"],
                name="villagesummary_one_per_day",
                violation_error_message="该村该日已有汇总",
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "day", "county"], name="villagesummary_county_idx"),
            models.Index(fields=["campaign", "day", "town"], name="villagesummary_town_idx"),
        ]

    def __str__(self):
        return f"{self.village} {self.day}"


class OrganizationDaySummary(FieldFigures):
    """One party organization's figures at the end of one campaign day: its members and their households."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+", verbose_name="活动")
    day = models.DateField("日期")
    organization = models.ForeignKey(
        PartyOrganization, on_delete=models.CASCADE, related_name="+", verbose_name="党组织"
    )
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）")
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="乡镇（街道）"
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="村（社区）"
    )
    members = models.PositiveIntegerField("在岗党员数", default=0)
    active_members = models.PositiveIntegerField("参与走访党员数", default=0)

    class Meta:
        verbose_name = "党组织每日汇总"
        verbose_name_plural = "党组织每日汇总"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "organization", "day"],
                name="orgsummary_one_per_day",
                violation_error_message="该党组织该日已有汇总",
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "day", "county"], name="orgsummary_county_idx"),
        ]

    def __str__(self):
        return f"{self.organization} {self.day}"


class PendingVillage(models.Model):
    """A village whose summary rows are stale: written by the signal receivers, emptied by the refresh."""

    village = models.OneToOneField(Village, on_delete=models.CASCADE, related_name="+", verbose_name="村（社区）")
    marked_at = models.DateTimeField("标记时间", auto_now_add=True)

    class Meta:
        verbose_name = "待刷新的村"
        verbose_name_plural = "待刷新的村"

    def __str__(self):
        return str(self.village_id)


class Bulletin(AppendOnlyModel):
    """A 通报: the ranking of one date frozen when issued. Never changes afterwards (nor do its lines)."""

    class Level(models.TextChoices):
        COUNTY = "county", "县（市、区）"
        TOWN = "town", "乡镇（街道）"

    year = models.PositiveSmallIntegerField("年度")
    number = models.PositiveIntegerField("期号")
    as_of = models.DateField("数据日期")
    level = models.CharField("排名层级", max_length=10, choices=Level.choices, default=Level.COUNTY)
    parent_county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="所属县（市、区）",
        help_text="乡镇排名通报时填写",
    )
    metric = models.CharField("排名指标", max_length=40)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="活动"
    )
    title = models.CharField("标题", max_length=200)
    issuer = models.CharField("发文单位", max_length=100)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="签发人",
    )
    issued_at = models.DateTimeField("签发时间", auto_now_add=True)
    main_recipients = models.CharField("主送", max_length=300, blank=True)
    copy_to = models.CharField("抄送", max_length=300, blank=True)
    note = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "通报"
        verbose_name_plural = "通报"
        ordering = ["-as_of", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "parent_county", "year", "number"],
                name="bulletin_unique_number",
                violation_error_message="该期号已使用",
            )
        ]

    def __str__(self):
        return f"{self.year}年第{self.number}期 {self.title}"

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.number}期"


class BulletinLine(AppendOnlyModel):
    """One ranked unit of a bulletin with every figure it was judged on, copied at issue time."""

    bulletin = models.ForeignKey(Bulletin, on_delete=models.PROTECT, related_name="lines", verbose_name="通报")
    position = models.PositiveSmallIntegerField("顺序")
    rank = models.PositiveSmallIntegerField("名次", null=True, blank=True)
    previous_rank = models.PositiveSmallIntegerField("上期名次", null=True, blank=True)
    code = models.CharField("区划代码", max_length=12)
    name = models.CharField("名称", max_length=60)
    figures = models.JSONField("数据", default=dict, help_text="签发时的全部整数数据")
    bottom_streak = models.PositiveSmallIntegerField("连续排名后三期数", default=0)

    class Meta:
        verbose_name = "通报排名行"
        verbose_name_plural = "通报排名行"
        ordering = ["bulletin_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["bulletin", "code"],
                name="bulletinline_one_per_unit",
                violation_error_message="同一期通报中单位不能重复",
            )
        ]

    def __str__(self):
        return f"{self.bulletin_id} {self.name}"
