"""Party organisations and members, and the households (with their residents) they look after."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from outreach.lib.append_only import AppendOnlyModel
from outreach.lib.history import HistoricalRecords
from outreach.places.models import County, GridArea, Town, Village


def on_roster_q(start: str, end: str, day: dt.date | None = None) -> models.Q:
    """On the roster at the end of ``day`` (today when None): entered on or before it, not yet left.

    The one definition of "on the roster": an end date is the first day a household (or member) no longer
    counts, so a household struck off on 8月6日 still counts on 8月5日 and never after.
    """
    day = day or timezone.localdate()
    return models.Q(**{f"{start}__lte": day}) & (models.Q(**{f"{end}__isnull": True}) | models.Q(**{f"{end}__gt": day}))


class RosterQuerySet(models.QuerySet):
    """Household and member querysets: ``on_roster()`` is every "current roster" list (chase lists, the phone)."""

    roster_fields = ("roster_start", "roster_end")

    def on_roster(self, day: dt.date | None = None):
        """Rows on the roster at the end of ``day`` (today when None); ended ones are kept, just not listed."""
        return self.filter(on_roster_q(*self.roster_fields, day))


class PartyOrganization(models.Model):
    """A 党委/党总支/党支部, tied to a village or an agency branch such as 县农机发展中心党支部."""

    class Kind(models.TextChoices):
        COMMITTEE = "committee", "党委"
        GENERAL_BRANCH = "general_branch", "党总支"
        BRANCH = "branch", "党支部"

    name = models.CharField("组织名称", max_length=100)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.BRANCH)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="party_organizations", verbose_name="县（市、区）"
    )
    town = models.ForeignKey(
        Town,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="party_organizations",
        verbose_name="乡镇（街道）",
    )
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="party_organizations",
        verbose_name="村（社区）",
        help_text="机关、单位党支部可不填",
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name="上级组织"
    )

    class Meta:
        verbose_name = "党组织"
        verbose_name_plural = "党组织"
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "name"],
                name="partyorg_unique_name_in_county",
                violation_error_message="同一县内党组织名称不能重复",
            )
        ]

    def __str__(self):
        return self.name


class MemberLeftReason(models.TextChoices):
    TRANSFERRED = "transferred", "组织关系转出"
    DECEASED = "deceased", "去世"
    DUPLICATE = "duplicate", "重复登记"
    OTHER = "other", "其他"


class MemberQuerySet(RosterQuerySet):
    roster_fields = ("joined_on", "left_on")


class PartyMember(models.Model):
    """A party member who takes households (包联户); may have a login to record visits."""

    name = models.CharField("姓名", max_length=30)
    phone = models.CharField("联系电话", max_length=20, blank=True, db_index=True)
    organization = models.ForeignKey(
        PartyOrganization, on_delete=models.PROTECT, related_name="members", verbose_name="所在党组织"
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="party_members", verbose_name="县（市、区）"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="party_member",
        verbose_name="登录账号",
    )
    is_active = models.BooleanField(
        "在岗",
        default=True,
        help_text="外出、生病等暂时不能包联时取消勾选（督办清单和移交包联户不再列出，已发生日期的数字不变）；"
        "调离、去世等请填写离开日期和原因",
    )
    joined_on = models.DateField(
        "列入名册日期", default=timezone.localdate, help_text="从这一天起计入党员数（参与率的分母）"
    )
    left_on = models.DateField(
        "离开日期", null=True, blank=True, help_text="调离、去世等：从这一天起不再计入党员数，记录不删除"
    )
    left_reason = models.CharField(
        "离开原因", max_length=20, choices=MemberLeftReason.choices, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = "党员"
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "党员"
        ordering = ["county_id", "organization_id", "name"]
        indexes = [
            models.Index(fields=["organization", "name"], name="member_org_name_idx"),
            # The list's own order (the admin's first page reads 50 rows of it instead of sorting 100,000).
            models.Index(fields=["county", "organization", "name"], name="member_county_org_name_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(left_on__isnull=True) | models.Q(left_on__gte=models.F("joined_on")),
                name="member_left_after_joined",
                violation_error_message="离开日期不能早于列入名册日期",
            ),
            models.CheckConstraint(
                condition=models.Q(left_on__isnull=True, left_reason="")
                | (models.Q(left_on__isnull=False) & ~models.Q(left_reason="")),
                name="member_left_with_reason",
                violation_error_message="填写离开日期时须选离开原因，没有离开日期时不填原因",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.organization_id and not self.county_id:
            self.county_id = self.organization.county_id
        super().save(*args, **kwargs)


class Team(models.Model):
    """A 宣传小分队: party members who go out together in one county or 片区."""

    name = models.CharField("小分队名称", max_length=60)
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="teams", verbose_name="县（市、区）")
    zone = models.ForeignKey(
        "places.Zone", on_delete=models.PROTECT, null=True, blank=True, related_name="teams", verbose_name="片区"
    )
    leader = models.ForeignKey(
        PartyMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="led_teams", verbose_name="队长"
    )
    members = models.ManyToManyField(PartyMember, blank=True, related_name="teams", verbose_name="队员")

    class Meta:
        verbose_name = "宣传小分队"
        verbose_name_plural = "宣传小分队"
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "name"],
                name="team_unique_name_in_county",
                violation_error_message="同一县内小分队名称不能重复",
            )
        ]

    def __str__(self):
        return self.name


# 重点人群: a household with any of these tags is vulnerable; the chase list and the phone list put it first.
VULNERABLE_FIELDS = ("elderly_alone", "left_behind", "student_family", "no_smartphone")


def vulnerable_q() -> models.Q:
    """The vulnerable households, as a filter (the one definition every list uses)."""
    q = models.Q()
    for name in VULNERABLE_FIELDS:
        q |= models.Q(**{name: True})
    return q


def vulnerable_labels(household) -> list[str]:
    """The vulnerable-group tags set on ``household`` (a Household or a ``values()`` row), as their labels."""
    get = household.get if isinstance(household, dict) else lambda name: getattr(household, name)
    return [str(Household._meta.get_field(name).verbose_name) for name in VULNERABLE_FIELDS if get(name)]


def vulnerable_first() -> models.Case:
    """0 for a vulnerable household, 1 for the others: ordering by it lists vulnerable households first."""
    return models.Case(
        models.When(vulnerable_q(), then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()
    )


class HouseholdQuerySet(RosterQuerySet):
    def with_vulnerable_first(self):
        """Annotate ``vulnerable_first`` (0: vulnerable, 1: not), so ordering by it lists vulnerable households first."""
        return self.annotate(vulnerable_first=vulnerable_first())


class HouseholdEndReason(models.TextChoices):
    MOVED = "moved", "迁出"
    MERGED = "merged", "合户"
    VACANT = "vacant", "长期无人居住"
    DECEASED = "deceased", "户主去世，户已注销"
    DUPLICATE = "duplicate", "重复登记"
    OTHER = "other", "其他"


class Household(models.Model):
    """A household of the roster (花名册). County and town are copies of the village's, kept for fast scoping."""

    head_name = models.CharField("户主姓名", max_length=30)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    address = models.CharField("家庭住址", max_length=200, blank=True)
    size = models.PositiveSmallIntegerField("家庭人口", default=1)
    # No single-column indexes on county, town and village: the list-order indexes in Meta start with them.
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="households", verbose_name="县（市、区）", db_index=False
    )
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, related_name="households", verbose_name="乡镇（街道）", db_index=False
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, related_name="households", verbose_name="村（社区）", db_index=False
    )
    grid = models.ForeignKey(
        GridArea, on_delete=models.PROTECT, null=True, blank=True, related_name="households", verbose_name="网格"
    )
    elderly_alone = models.BooleanField("独居老人", default=False)
    left_behind = models.BooleanField("留守老人/儿童", default=False)
    student_family = models.BooleanField("学生家庭", default=False)
    no_smartphone = models.BooleanField("无智能手机", default=False)
    note = models.CharField("备注", max_length=200, blank=True)
    roster_start = models.DateField(
        "列入花名册日期", default=timezone.localdate, help_text="从这一天起计入住户数（入户率等的分母）"
    )
    roster_end = models.DateField(
        "移出花名册日期",
        null=True,
        blank=True,
        help_text="迁出、注销的户填写：从这一天起不再计入住户数，不再出现在督办清单和手机上；记录和走访都保留",
    )
    # db_default: bulk loads (COPY, the importers' INSERTs) name only the columns they fill.
    end_reason = models.CharField(
        "移出原因", max_length=20, choices=HouseholdEndReason.choices, blank=True, default="", db_default=""
    )
    end_note = models.CharField(
        "移出说明", max_length=200, blank=True, default="", db_default="", help_text="如迁往何处"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    # Who changed what, when (admin 历史); bulk imports skip it and write the access log instead.
    history = HistoricalRecords(excluded_fields=["updated_at"])

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = "住户"
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "住户"
        ordering = ["village_id", "id"]
        indexes = [
            models.Index(fields=["phone"], name="household_phone_idx"),
            # varchar_pattern_ops lets PostgreSQL answer LIKE 'name%' (the admin's name search) from the index.
            models.Index(fields=["head_name"], name="household_head_name_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["village", "head_name"], name="household_village_name_idx"),
            models.Index(fields=["county", "town"], name="household_county_town_idx"),
            # The chase list's order (vulnerable first, then village, id): read in order and stopped after one page
            # instead of sorting a county's 200,000 households for every page.
            models.Index(vulnerable_first(), "village", "id", name="household_vulnerable_first_idx"),
            # The list's order (village, id) within each level a user is scoped at: page 1 of a county's or a town's
            # households is read in order and stopped after 50 rows. With one index on village alone a county
            # whose villages come late was found by walking the whole city in village order (0.4 s a page).
            models.Index(fields=["village", "id"], name="household_village_order_idx"),
            models.Index(fields=["town", "village", "id"], name="household_town_order_idx"),
            models.Index(fields=["county", "village", "id"], name="household_county_order_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(size__gte=1, size__lte=50),
                name="household_size_range",
                violation_error_message="家庭人口须在1到50之间",
            ),
            models.CheckConstraint(
                condition=models.Q(roster_end__isnull=True) | models.Q(roster_end__gte=models.F("roster_start")),
                name="household_end_after_start",
                violation_error_message="移出花名册日期不能早于列入花名册日期",
            ),
            models.CheckConstraint(
                condition=models.Q(roster_end__isnull=True, end_reason="")
                | (models.Q(roster_end__isnull=False) & ~models.Q(end_reason="")),
                name="household_end_with_reason",
                violation_error_message="填写移出花名册日期时须选移出原因，没有移出日期时不填原因",
            ),
        ]

    def __str__(self):
        # No phone number here: admin history and audit tables copy __str__.
        return f"{self.head_name}户（{self.address}）" if self.address else f"{self.head_name}户"

    def save(self, *args, **kwargs):
        self.fill_places()
        super().save(*args, **kwargs)

    def on_roster(self, day: dt.date | None = None) -> bool:
        day = day or timezone.localdate()
        return self.roster_start <= day and (self.roster_end is None or self.roster_end > day)

    @property
    def vulnerable(self) -> bool:
        return any(getattr(self, name) for name in VULNERABLE_FIELDS)

    def fill_places(self):
        """Copy county and town from the village (and the village from the grid) before saving."""
        if self.grid_id and not self.village_id:
            self.village_id = self.grid.village_id
        if self.village_id:
            village = self.village
            self.town_id = village.town_id
            self.county_id = village.county_id


class Resident(models.Model):
    """A person of a household, kept where per-person figures (App 注册、实名) are needed."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="residents", verbose_name="住户")
    name = models.CharField("姓名", max_length=30)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    is_head = models.BooleanField("户主", default=False)
    app_installed = models.BooleanField("已安装App", default=False)
    app_registered = models.BooleanField("已注册", default=False)
    app_verified = models.BooleanField("已实名", default=False)
    alerts_enabled = models.BooleanField("预警已开启", default=False)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "家庭成员"
        verbose_name_plural = "家庭成员"
        ordering = ["household_id", "-is_head", "id"]

    def __str__(self):
        return self.name


class RosterCorrection(AppendOnlyModel):
    """A roster date changed after the fact (事后更正): figures of days already past change, and say so.

    Recorded whenever a household's 列入/移出 date or a member's 列入/离开 date is set or moved to a day before
    the day it is recorded on. ``affects_from`` is the first day whose figures change; a ranking of a day on or
    after it, recomputed after ``recorded_at``, shows the note. Never edited or deleted.
    """

    class Field(models.TextChoices):
        ROSTER_START = "roster_start", "列入花名册日期"
        ROSTER_END = "roster_end", "移出花名册日期"
        JOINED_ON = "joined_on", "党员列入名册日期"
        LEFT_ON = "left_on", "党员离开日期"

    # PROTECT: a household or member a correction names stays (a deletion would take the evidence with it).
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="住户"
    )
    member = models.ForeignKey(
        PartyMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="党员"
    )
    subject = models.CharField("更正对象", max_length=100, help_text="记录时的户主或党员姓名")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）")
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="乡镇（街道）"
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="村（社区）"
    )
    field = models.CharField("更正项", max_length=20, choices=Field.choices)
    old_value = models.DateField("原日期", null=True, blank=True)
    new_value = models.DateField("新日期", null=True, blank=True)
    affects_from = models.DateField("影响起始日", db_index=True, help_text="从这一天起的数字因此改变")
    reason = models.CharField("更正原因", max_length=300)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="更正人",
    )
    recorded_at = models.DateTimeField("更正时间", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "花名册更正"
        verbose_name_plural = "花名册更正"
        ordering = ["-recorded_at", "-pk"]

    def __str__(self):
        return f"{self.subject} {self.get_field_display()}"
