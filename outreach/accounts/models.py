"""Users of the campaign and the area each one works in."""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from outreach.lib.append_only import AppendOnlyModel
from outreach.places.models import County, GridArea, Town, Zone


class Role(models.TextChoices):
    CITY = "city", "市级管理员"
    COUNTY = "county", "县级管理员"
    TOWN = "town", "乡镇管理员"
    GRID = "grid", "网格员"
    MEMBER = "member", "党员"


# How far up the city each role stands: an account manages only accounts strictly below its own level
# (a county admin its county's town admins, grid workers and members; only a superuser a superuser).
ROLE_LEVEL = {Role.MEMBER: 0, Role.GRID: 1, Role.TOWN: 2, Role.COUNTY: 3, Role.CITY: 4}
SUPERUSER_LEVEL = 5

# Which area fields each role must and must not have (superusers reach everything, whatever is filled in).
ROLE_SCOPE_RULE = (
    Q(is_superuser=True)
    | Q(role=Role.CITY, county__isnull=True, town__isnull=True, zone__isnull=True)
    | Q(role=Role.COUNTY, county__isnull=False, town__isnull=True, zone__isnull=True)
    | (Q(role=Role.TOWN, county__isnull=False) & (Q(town__isnull=False) | Q(zone__isnull=False)))
    | Q(role=Role.GRID, zone__isnull=True)
    | Q(role=Role.MEMBER, zone__isnull=True)
)


def level_of(user) -> int:
    """The level of ``user`` in the chain of command (see ``ROLE_LEVEL``); -1 for no one."""
    if user is None or not user.is_authenticated:
        return -1
    if user.is_superuser:
        return SUPERUSER_LEVEL
    return ROLE_LEVEL.get(user.role, -1)


def roles_below(user) -> list[str]:
    """The roles ``user`` may give to and manage in other accounts."""
    level = level_of(user)
    return [role for role in Role.values if ROLE_LEVEL[role] < level]


class User(AbstractUser):
    """A login; ``role`` and the area fields say which part of the city the user works on."""

    role = models.CharField("角色", max_length=10, choices=Role.choices, default=Role.MEMBER)
    phone = models.CharField("手机号码", max_length=20, blank=True)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name="所属县（市、区）"
    )
    town = models.ForeignKey(
        Town, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name="所属乡镇（街道）"
    )
    zone = models.ForeignKey(
        Zone, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name="所属片区"
    )
    grids = models.ManyToManyField(GridArea, blank=True, related_name="workers", verbose_name="负责网格")

    class Meta:
        verbose_name = "用户"
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "用户"
        constraints = [
            models.CheckConstraint(
                condition=ROLE_SCOPE_RULE,
                name="user_scope_matches_role",
                violation_error_message=(
                    "工作范围与角色不符：市级管理员不填县、乡镇、片区；县级管理员只填县；乡镇管理员填县和乡镇（或片区）；"
                    "网格员和党员不填片区"
                ),
            )
        ]

    def __str__(self):
        full = self.display_name
        return f"{full}（{self.username}）" if full != self.username else self.username

    @property
    def display_name(self) -> str:
        """The person's name as pages show it (Chinese order, family name first), else the login name."""
        return f"{self.last_name}{self.first_name}".strip() or self.username

    def clean(self):
        """The area fields fit the role and each other (the database constraint holds the per-row part)."""
        super().clean()
        if self.is_superuser:
            return
        errors = {}
        if self.role == Role.CITY:
            for name in ("county", "town", "zone"):
                if getattr(self, f"{name}_id"):
                    errors[name] = "市级管理员管理全市，不填县（市、区）、乡镇或片区"
        elif self.role == Role.COUNTY:
            if not self.county_id:
                errors["county"] = "县级管理员须填写所属县（市、区）"
            for name in ("town", "zone"):
                if getattr(self, f"{name}_id"):
                    errors[name] = "县级管理员管理全县，不填乡镇或片区"
        elif self.role == Role.TOWN:
            if not self.town_id and not self.zone_id:
                errors["town"] = "乡镇管理员须填写所属乡镇（街道）或片区"
        elif self.zone_id:
            errors["zone"] = "只有乡镇管理员可以属于片区"
        # The county follows from the town or zone; a different one is a mistake, not a second area.
        for name in ("town", "zone"):
            place = getattr(self, name) if getattr(self, f"{name}_id") else None
            if place is None or name in errors:
                continue
            if self.county_id and self.county_id != place.county_id:
                errors[name] = f"“{place.name}”不属于{self.county.name}"
            elif not self.county_id:
                self.county_id = place.county_id
        if self.role == Role.TOWN and not self.county_id and "town" not in errors:
            errors["county"] = "乡镇管理员须填写所属县（市、区）"
        if errors:
            raise ValidationError(errors)

    def clean_grids(self, grids) -> None:
        """Grid workers look after at least one grid, all inside their county (and town, when given)."""
        if self.is_superuser:
            return
        grids = list(grids)
        if self.role == Role.GRID and not grids:
            raise ValidationError({"grids": "网格员须至少负责一个网格"})
        if grids and self.role != Role.GRID:
            raise ValidationError({"grids": "只有网格员负责网格"})
        outside = [g for g in grids if self.county_id and g.village.county_id != self.county_id]
        outside += [g for g in grids if self.town_id and g.village.town_id != self.town_id and g not in outside]
        if outside:
            raise ValidationError({"grids": "网格不在本账号的县（市、区）或乡镇内：" + "、".join(map(str, outside))})


class AccessLog(AppendOnlyModel):
    """An append-only record of every import, export, bulk change and reveal of personal data."""

    class Kind(models.TextChoices):
        IMPORT = "import", "导入"
        EXPORT = "export", "导出"
        BULK_CHANGE = "bulk_change", "批量修改"
        REVEAL = "reveal", "查看完整号码"

    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="access_logs", verbose_name="用户"
    )
    username = models.CharField("用户名", max_length=150, help_text="用户被删除后仍保留")
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, db_index=True)
    subject = models.CharField("对象", max_length=100, help_text="如 住户、责任分工表")
    scope = models.CharField("范围", max_length=200, blank=True)
    rows = models.PositiveIntegerField("行数", default=0)
    filename = models.CharField("文件名", max_length=255, blank=True)
    detail = models.TextField("说明", blank=True)
    ip_address = models.GenericIPAddressField("IP地址", null=True, blank=True)

    class Meta:
        verbose_name = "个人信息访问记录"
        verbose_name_plural = "个人信息访问记录"
        ordering = ["-at"]

    def __str__(self):
        return f"{self.username} {self.get_kind_display()} {self.subject}"


@receiver(m2m_changed, sender=User.grids.through)
def _grids_fit_the_account(sender, instance, action, reverse, pk_set, **kwargs):
    """Grids added to an account by any path (admin, import, shell) stay inside its county and town."""
    if action != "pre_add" or not pk_set:
        return
    if reverse:
        users = list(User.objects.filter(pk__in=pk_set))
        for user in users:
            user.clean_grids([*user.grids.all(), instance])
        return
    added = GridArea.objects.filter(pk__in=pk_set).select_related("village")
    instance.clean_grids([*instance.grids.select_related("village"), *added])
