"""Party organisations and members, and the households (with their residents) they look after."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from outreach.places.models import County, GridArea, Town, Village


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
    is_active = models.BooleanField("在岗", default=True, help_text="外出、生病等不能包联时取消勾选")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

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


class HouseholdQuerySet(models.QuerySet):
    def with_vulnerable_first(self):
        """Annotate ``vulnerable_first`` (0: vulnerable, 1: not), so ordering by it lists vulnerable households first."""
        return self.annotate(vulnerable_first=vulnerable_first())


class Household(models.Model):
    """A household of the roster (花名册). County and town are copies of the village's, kept for fast scoping."""

    head_name = models.CharField("户主姓名", max_length=30)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    address = models.CharField("家庭住址", max_length=200, blank=True)
    size = models.PositiveSmallIntegerField("家庭人口", default=1)
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="households", verbose_name="县（市、区）")
    town = models.ForeignKey(Town, on_delete=models.PROTECT, related_name="households", verbose_name="乡镇（街道）")
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="households", verbose_name="村（社区）")
    grid = models.ForeignKey(
        GridArea, on_delete=models.PROTECT, null=True, blank=True, related_name="households", verbose_name="网格"
    )
    elderly_alone = models.BooleanField("独居老人", default=False)
    left_behind = models.BooleanField("留守老人/儿童", default=False)
    student_family = models.BooleanField("学生家庭", default=False)
    no_smartphone = models.BooleanField("无智能手机", default=False)
    note = models.CharField("备注", max_length=200, blank=True)
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
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(size__gte=1, size__lte=50),
                name="household_size_range",
                violation_error_message="家庭人口须在1到50之间",
            )
        ]

    def __str__(self):
        # No phone number here: admin history and audit tables copy __str__.
        return f"{self.head_name}户（{self.address}）" if self.address else f"{self.head_name}户"

    def save(self, *args, **kwargs):
        self.fill_places()
        super().save(*args, **kwargs)

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
