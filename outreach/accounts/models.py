"""Users of the campaign and the area each one works in."""

from django.contrib.auth.models import AbstractUser
from django.db import models

from outreach.places.models import County, GridArea, Town, Zone


class Role(models.TextChoices):
    CITY = "city", "市级管理员"
    COUNTY = "county", "县级管理员"
    TOWN = "town", "乡镇管理员"
    GRID = "grid", "网格员"
    MEMBER = "member", "党员"


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
        verbose_name_plural = "用户"

    def __str__(self):
        full = f"{self.last_name}{self.first_name}".strip()
        return f"{full}（{self.username}）" if full else self.username
