"""Visits (入户走访) to households and the fraud scripts explained during them."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q

from outreach.campaigns.models import Campaign
from outreach.campaigns.rules import visit_may_belong
from outreach.lib.history import HistoricalRecords, HistoryManager
from outreach.people.models import Household, PartyMember
from outreach.places.models import County, GridArea, Town, Village


class FraudType(models.Model):
    """A common fraud script (诈骗类型) that visitors explain."""

    name = models.CharField("诈骗类型", max_length=30, unique=True)
    sort_order = models.PositiveSmallIntegerField("排序", default=0)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "诈骗类型"
        verbose_name_plural = "诈骗类型"
        ordering = ["sort_order", "id"]

    def __str__(self):
        return self.name


COMMON_FRAUD_TYPES = [  # seeded by migration 0002_seed_fraud_types
    "刷单返利",
    "虚假投资理财",
    "虚假网络贷款",
    "冒充电商物流客服",
    "冒充公检法",
    "冒充领导熟人",
    "网络游戏产品虚假交易",
    "网络婚恋交友",
    "虚假征信",
    "兼职招聘",
]


def campaign_not_covering(campaign) -> str:
    return f"活动“{campaign.name}”不包括这户所在的县（市、区），请选择本县参与的活动"


class IntegrityStatus(models.TextChoices):
    """Where a visit stands on its integrity flags (走访疑点), rolled up from the flags the checks found."""

    NONE = "", "无疑点"
    OPEN = "open", "待核查"
    CLEARED = "cleared", "确认无误"
    CONFIRMED = "confirmed", "确认有误"

    @classmethod
    def of(cls, statuses) -> str:
        """A visit's status from its flags' statuses: any open flag keeps it 待核查, then any 确认有误, then
        确认无误 when every flag was cleared; no flag at all, 无疑点."""
        statuses = set(statuses)
        for status in (cls.OPEN, cls.CONFIRMED, cls.CLEARED):
            if status in statuses:
                return status
        return cls.NONE


# Statuses that count as "flagged": a ranking row's 疑点走访 and, where a campaign says so, out of 入户率.
FLAGGED_STATUSES = (IntegrityStatus.OPEN, IntegrityStatus.CONFIRMED)


HISTORY_UNINDEXED = [
    "client_id",
    "campaign",
    "household",
    "visitor",
    "recorded_by",
    "visited_at",
    "signature_sha256",
    "county",
    "town",
    "village",
    "grid",
]


class Visit(models.Model):
    """One visit to a household. ``client_id`` is made on the phone, so a resent form stores it once.

    The household's places are copied onto the visit so rankings and scoping need no joins.
    """

    client_id = models.UUIDField("客户端编号", unique=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="visits", verbose_name="活动")
    # No single-column indexes on household and visitor either: visit_household_idx and visit_visitor_idx start
    # with them. Every index is one more write per visit POST.
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="visits", verbose_name="住户", db_index=False
    )
    visitor = models.ForeignKey(
        PartyMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name="走访党员",
        db_index=False,
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recorded_visits",
        verbose_name="录入人",
    )
    visited_at = models.DateTimeField("走访时间", db_index=True)
    entered = models.BooleanField("真入户", default=False)
    met_person = models.BooleanField("真人见", default=False)
    explained = models.BooleanField("真讲解", default=False)
    signed = models.BooleanField("真签名（签承诺书）", default=False)
    fraud_types = models.ManyToManyField(FraudType, blank=True, related_name="visits", verbose_name="讲解的诈骗类型")
    left_brochure = models.BooleanField("留下宣传册", default=False)
    left_letter = models.BooleanField("留下《致全县人民群众的一封信》", default=False)
    left_pledge = models.BooleanField("留下承诺书", default=False)
    app_installed = models.PositiveSmallIntegerField("现场安装App人数", default=0)
    app_registered = models.PositiveSmallIntegerField("现场注册人数", default=0)
    app_verified = models.PositiveSmallIntegerField("现场实名人数", default=0)
    alerts_enabled = models.PositiveSmallIntegerField("开启来电预警人数", default=0)
    is_qualified = models.BooleanField("有效走访", default=False, help_text="按活动的有效走访规则计算")
    integrity = models.CharField(
        "疑点核查",
        max_length=10,
        choices=IntegrityStatus.choices,
        default=IntegrityStatus.NONE,
        blank=True,
        editable=False,
        help_text="由走访疑点检查和核查结果汇总",
    )
    signature = models.FileField("承诺书签名", upload_to="signatures/%Y/%m/", blank=True)
    # SHA-256 of the signature image: the same image on different households is an integrity flag (looked up by
    # equality only: the partial index in Meta, without the pattern-ops twin a CharField's db_index adds).
    signature_sha256 = models.CharField("签名图片指纹", max_length=64, blank=True, editable=False)
    photo = models.FileField("现场照片", upload_to="visit_photos/%Y/%m/", blank=True)
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    notes = models.TextField("备注", blank=True)
    # No single-column indexes on county, town and grid: the by-date indexes in Meta start with them.
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）", db_index=False
    )
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="+", verbose_name="乡镇（街道）", db_index=False
    )
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="+", verbose_name="村（社区）")
    grid = models.ForeignKey(
        GridArea,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="网格",
        db_index=False,
    )
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    # The change history is read by visit (id), date and user; its copies of the visit's indexed columns are
    # never searched, and each index would be one more write per visit POST.
    history = HistoricalRecords(history_manager=HistoryManager, no_db_index=HISTORY_UNINDEXED)

    class Meta:
        verbose_name = "走访记录"
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "走访记录"
        ordering = ["-visited_at"]
        indexes = [
            models.Index(fields=["household", "visited_at"], name="visit_household_idx"),
            models.Index(fields=["visitor", "visited_at"], name="visit_visitor_idx"),
            models.Index(fields=["county", "town", "village"], name="visit_places_idx"),
            # The newest visits and the first and last date (the admin's date hierarchy) of each area a user is
            # scoped at, read from one end of an index. With only visited_at indexed, a town or grid with no
            # visits yet made PostgreSQL walk all three million visits in date order looking for one (27 s).
            models.Index(fields=["county", "visited_at"], name="visit_county_date_idx"),
            models.Index(fields=["town", "visited_at"], name="visit_town_date_idx"),
            models.Index(fields=["grid", "visited_at"], name="visit_grid_date_idx"),
            models.Index(
                fields=["signature_sha256"], name="visit_signature_idx", condition=~models.Q(signature_sha256="")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(app_registered__lte=models.F("app_installed")),
                name="visit_registered_not_above_installed",
                violation_error_message="现场注册人数不能多于安装人数",
            ),
            models.CheckConstraint(
                condition=models.Q(app_verified__lte=models.F("app_registered")),
                name="visit_verified_not_above_registered",
                violation_error_message="现场实名人数不能多于注册人数",
            ),
        ]

    def __str__(self):
        return f"{self.household} {self.visited_at:%Y-%m-%d}"

    def clean(self):
        super().clean()
        if (
            self.campaign_id
            and self.household_id
            and not visit_may_belong(self.campaign, self.household, self.visitor_id)
        ):
            raise ValidationError({"campaign": campaign_not_covering(self.campaign)})

    def fill_places(self):
        """Copy the household's places onto the visit."""
        household = self.household
        self.county_id = household.county_id
        self.town_id = household.town_id
        self.village_id = household.village_id
        self.grid_id = household.grid_id

    def qualifies(self, explained_count: int) -> bool:
        """Whether this visit counts under its campaign's rule (``explained_count`` fraud scripts explained)."""
        return QualifyingRule(self.campaign).allows(self, explained_count)


class VisitorLastVisit(models.Model):
    """Each party member's latest visit, kept by database triggers on ``visits_visit`` (migration 0008), so every
    writer keeps it: the phone's one INSERT, the admin, the demo, a DELETE. The chase list of idle members reads
    it instead of probing each member's visits (19,209 index probes for one county at city scale).

    A member with no row (or a NULL time) has never been visited. ``rebuild_last_visits`` writes it from scratch
    after a bulk load that skipped the triggers (build_city)."""

    member = models.OneToOneField(
        PartyMember,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="last_visit_record",
        verbose_name="党员",
    )
    last_visited_at = models.DateTimeField("最近走访时间", null=True, blank=True)

    class Meta:
        verbose_name = "党员最近走访"
        verbose_name_plural = "党员最近走访"
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.member_id} {self.last_visited_at or '从未走访'}"


# ---------------------------------------------------------------------------------------------------------
# 有效走访: what makes a visit count (四真), declared once. ``QualifyingRule`` reads the declaration both ways:
# ``allows`` for one visit in Python (record_visit, the admin, the demo) and ``as_q`` for every visit of a
# campaign in SQL (requalify_visits after the rule changed). tests/test_visits.py holds the two to one answer.


@dataclass(frozen=True)
class QualifyingCheck:
    """One check a campaign may require: its switch on ``Campaign``, the field on ``Visit``, and how the field
    passes. A tick (the 四真) passes when set, with a fraud script recorded behind it where ``needs_script``
    (真讲解 needs at least one); a field with ``refused`` values passes unless it holds one of them (待核查的走访
    不计入入户率: a visit whose integrity is open or confirmed wrong does not count until cleared)."""

    switch: str
    tick: str
    needs_script: bool = False
    refused: tuple = ()


QUALIFYING_CHECKS = (
    QualifyingCheck("require_entered", "entered"),
    QualifyingCheck("require_met_person", "met_person"),
    QualifyingCheck("require_explained", "explained", needs_script=True),
    QualifyingCheck("require_signed", "signed"),
    QualifyingCheck("exclude_flagged", "integrity", refused=FLAGGED_STATUSES),
)
# The campaign switches the rule reads: changing one requalifies the campaign's visits.
RULE_SWITCHES = tuple(check.switch for check in QUALIFYING_CHECKS)


class QualifyingRule:
    """A campaign's 有效走访 rule: the checks among ``QUALIFYING_CHECKS`` that its switches turn on."""

    def __init__(self, campaign: Campaign):
        self.required = tuple(check for check in QUALIFYING_CHECKS if getattr(campaign, check.switch))

    def allows(self, visit, explained_count: int) -> bool:
        """Whether ``visit`` (a Visit or anything with its ticks) counts with ``explained_count`` scripts."""
        for check in self.required:
            if check.refused:
                if getattr(visit, check.tick, "") in check.refused:
                    return False
            elif not (getattr(visit, check.tick) and (explained_count > 0 or not check.needs_script)):
                return False
        return True

    def as_q(self) -> Q:
        """The same answer as a filter on visits (always true when the campaign requires nothing)."""
        rule = Q()
        for check in self.required:
            if check.refused:
                rule &= ~Q(**{f"{check.tick}__in": check.refused})
                continue
            rule &= Q(**{check.tick: True})
            if check.needs_script:
                rule &= Q(Exists(Visit.fraud_types.through.objects.filter(visit_id=OuterRef("pk"))))
        return rule or Q(pk__isnull=False)
