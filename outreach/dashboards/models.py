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

# The figures of ``FieldFigures``, in the order the rankings sum them.
FIGURE_FIELDS = [
    "households",
    "assigned",
    "visited",
    "signed",
    "visits",
    "qualified_visits",
    "flagged_visits",
    "app_installed",
    "app_registered",
    "app_verified",
    "alerts_enabled",
]


class FieldFigures(models.Model):
    """The cumulative field figures shared by the village and organization summaries."""

    households = models.PositiveIntegerField("住户数", default=0)
    assigned = models.PositiveIntegerField("已包联户数", default=0)
    visited = models.PositiveIntegerField("有效入户户数", default=0)
    signed = models.PositiveIntegerField("签承诺书户数", default=0)
    visits = models.PositiveIntegerField("走访次数", default=0)
    qualified_visits = models.PositiveIntegerField("有效走访次数", default=0)
    flagged_visits = models.PositiveIntegerField("疑点走访次数", default=0, help_text="待核查或确认有误的走访")
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
            # Covering (PostgreSQL): a ranking's GROUP BY of one or two days, the trend's days and the chase list's
            # villages read the day's index entries alone, not one scattered heap page per village.
            models.Index(
                fields=["campaign", "day", "county"],
                include=["town", "village", *FIGURE_FIELDS],
                name="villagesummary_county_cover",
            ),
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
            models.Index(
                fields=["campaign", "day", "county"],
                include=["town", "village", "members", "active_members"],
                name="orgsummary_county_cover",
            ),
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


class PendingOrganization(models.Model):
    """A party organization whose summary rows are stale because its members changed: an agency branch
    (县农机发展中心党支部) has no village to be marked through, so members' writes mark the organization itself."""

    organization = models.OneToOneField(
        PartyOrganization, on_delete=models.CASCADE, related_name="+", verbose_name="党组织"
    )
    marked_at = models.DateTimeField("标记时间", auto_now_add=True)

    class Meta:
        verbose_name = "待刷新的党组织"
        verbose_name_plural = "待刷新的党组织"

    def __str__(self):
        return str(self.organization_id)


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
    supervision_report = models.JSONField(
        "上期督办整改情况", default=list, blank=True, help_text="签发时上期督办单的状态和回复日期"
    )
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


class SupervisionOrder(models.Model):
    """A 督办单: a unit told to answer with 整改措施 by a deadline, opened from a bulletin or by hand."""

    class Reason(models.TextChoices):
        STREAK = "streak", "连续排名后三"
        MANUAL = "manual", "人工督办"

    class State(models.TextChoices):
        WAITING = "waiting", "待签收"
        SIGNED = "signed", "已签收"
        REPLIED = "replied", "已回复"
        CLOSED = "closed", "已办结"
        RETURNED = "returned", "退回"

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）")
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="乡镇（街道）"
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="村（社区）"
    )
    unit_name = models.CharField("督办单位", max_length=60)
    reason = models.CharField("督办原因", max_length=10, choices=Reason.choices)
    reason_text = models.CharField("原因说明", max_length=300)
    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", verbose_name="来源通报"
    )
    deadline = models.DateField("整改期限")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="须回复人",
    )
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.WAITING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="督办人",
    )
    created_at = models.DateTimeField("督办时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "督办单"
        verbose_name_plural = "督办单"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["county", "state"], name="supervision_county_state_idx")]

    def __str__(self):
        return f"{self.unit_name}（{self.get_state_display()}）"

    @property
    def is_overdue(self) -> bool:
        """逾期: past the deadline and not yet answered and closed."""
        from django.utils import timezone

        return self.state not in (self.State.REPLIED, self.State.CLOSED) and timezone.localdate() > self.deadline


class SupervisionStep(AppendOnlyModel):
    """One step of a 督办单 (签收, 回复 with 整改措施, 办结, 退回): who and when, never edited afterwards."""

    order = models.ForeignKey(SupervisionOrder, on_delete=models.PROTECT, related_name="steps", verbose_name="督办单")
    state = models.CharField("状态", max_length=10, choices=SupervisionOrder.State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    at = models.DateTimeField("时间", auto_now_add=True)
    text = models.TextField("整改措施或意见", blank=True)
    attachment = models.FileField("附件", upload_to="supervision/%Y/%m/", blank=True)
    late = models.BooleanField("逾期回复", default=False)

    class Meta:
        verbose_name = "督办记录"
        verbose_name_plural = "督办记录"
        ordering = ["order_id", "at", "pk"]

    def __str__(self):
        return f"{self.order_id} {self.get_state_display()}"
