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
        default_permissions = ("add", "change", "delete", "view", "import", "export")
        verbose_name_plural = "用户"

    def __str__(self):
        full = f"{self.last_name}{self.first_name}".strip()
        return f"{full}（{self.username}）" if full else self.username


class AccessLog(models.Model):
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

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("访问记录只能新增，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("访问记录不能删除")
