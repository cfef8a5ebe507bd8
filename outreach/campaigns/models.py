"""A campaign (活动) and its assignments (包联): one responsible member per household per campaign."""

from django.conf import settings
from django.db import models

from outreach.lib.history import HistoricalRecords
from outreach.people.models import Household, PartyMember
from outreach.places.models import County


class Campaign(models.Model):
    """A named drive such as "十万党员进百万家", with its dates, counties, targets and what makes a visit count."""

    name = models.CharField("活动名称", max_length=100, unique=True)
    start_date = models.DateField("开始日期")
    end_date = models.DateField("结束日期")
    counties = models.ManyToManyField(County, related_name="campaigns", verbose_name="参与县（市、区）", blank=True)
    target_visit_rate = models.DecimalField(
        "入户率目标（%）", max_digits=5, decimal_places=2, default=100, help_text="有效走访户数 ÷ 包联户数"
    )
    target_registration_rate = models.DecimalField(
        "注册率目标（%）", max_digits=5, decimal_places=2, default=30, help_text="安装注册人数 ÷ 常住人口"
    )
    # The rule that makes a visit count (有效走访); the default is the campaign's 四真.
    require_entered = models.BooleanField("有效走访须真入户", default=False)
    require_met_person = models.BooleanField("有效走访须真人见", default=True)
    require_explained = models.BooleanField("有效走访须至少讲解一类诈骗", default=True)
    require_signed = models.BooleanField("有效走访须签承诺书", default=True)
    exclude_flagged = models.BooleanField(
        "待核查的走访不计入入户率",
        default=False,
        help_text="开启后，有疑点（待核查或确认有误）的走访不算有效走访，核查确认无误后才计入入户率",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "活动"
        verbose_name_plural = "活动"
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="campaign_dates_in_order",
                violation_error_message="结束日期不能早于开始日期",
            )
        ]

    def __str__(self):
        return self.name


class Assignment(models.Model):
    """包联: the party member responsible for one household in one campaign."""

    # No index of their own on campaign or member: the unique (campaign, household) and assignment_member_idx
    # (member, campaign) begin with them and serve every lookup by either, and a 100,000-row import keeps two
    # fewer indexes up to date (a quarter of its 包联 COPY).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="assignments", verbose_name="活动", db_index=False
    )
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="assignments", verbose_name="住户")
    member = models.ForeignKey(
        PartyMember, on_delete=models.PROTECT, related_name="assignments", verbose_name="包联党员", db_index=False
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="分配人",
    )
    created_at = models.DateTimeField("分配时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "包联关系"
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "包联关系"
        ordering = ["campaign_id", "member_id", "household_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "household"],
                name="assignment_one_member_per_household",
                violation_error_message="该住户在本活动中已有包联党员",
            )
        ]
        indexes = [models.Index(fields=["member", "campaign"], name="assignment_member_idx")]

    def __str__(self):
        return f"{self.member} 包联 {self.household}"
