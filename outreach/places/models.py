"""Administrative places of the city: County → Town → Village → GridArea, and Zone (作战宣传片区)."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from outreach.lib.append_only import AppendOnlyModel
from outreach.lib.names import clean_name, short_village_name

division_code_validator = RegexValidator(r"^\d{12}$", "统计用区划代码须为12位数字")


class PopulationBasis(models.TextChoices):
    """Where a county's 常住人口 comes from; pages, exports and bulletins name it beside every rate per person."""

    CENSUS = "census", "第七次人口普查常住人口"
    BULLETIN = "bulletin", "通报给出的常住人口"
    OTHER = "other", "其他来源的常住人口"


class County(models.Model):
    """A county-level unit (县/市/区) with its 常住人口 (the census figure unless a change log says otherwise).

    The population is changed only through ``places.services.set_population``, which logs who, when, the old and
    new value and why (``PopulationChange``).
    """

    code = models.CharField("统计用区划代码", max_length=12, unique=True, validators=[division_code_validator])
    name = models.CharField("名称", max_length=50)
    population = models.PositiveIntegerField("常住人口", null=True, blank=True)
    population_year = models.PositiveSmallIntegerField("人口数据年份", null=True, blank=True)
    population_basis = models.CharField(
        "人口数据口径", max_length=10, choices=PopulationBasis.choices, default=PopulationBasis.CENSUS
    )
    population_source = models.TextField("人口数据来源", blank=True)

    class Meta:
        verbose_name = "县（市、区）"
        verbose_name_plural = "县（市、区）"
        ordering = ["code"]

    def __str__(self):
        return self.name

    @property
    def population_label(self) -> str:
        """The denominator as pages name it: "第七次人口普查常住人口（2020）"."""
        return population_label(self.population_basis, self.population_year)


def population_label(basis: str, year: int | None) -> str:
    """A county's stored 常住人口 named as a denominator: "第七次人口普查常住人口（2020）"."""
    label = PopulationBasis(basis).label if basis in PopulationBasis.values else PopulationBasis.OTHER.label
    return f"{label}（{year}）" if year else label


# The short names a table cell shows (its tooltip and the line above the table give the full ones).
SHORT_BASIS = {
    PopulationBasis.CENSUS.label: "七普",
    PopulationBasis.BULLETIN.label: "通报",
    PopulationBasis.OTHER.label: "其他",
}


def short_population_label(label: str) -> str:
    """ "第七次人口普查常住人口（2020）" → "七普（2020）"; "通报给出的常住人口（2021年8月13日通报）" → "通报（2021年8月13日）"."""
    for full, short in SHORT_BASIS.items():
        label = label.replace(full, short)
    return label.replace("日通报）", "日）")


def report_population_label(day) -> str:
    """The 常住人口 an App bulletin line gave itself, named as a denominator."""
    return f"{PopulationBasis.BULLETIN.label}（{day.year}年{day.month}月{day.day}日通报）"


class PopulationChange(AppendOnlyModel):
    """One change of a county's 常住人口: who, when, old and new value (with year and basis), and why."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="population_changes", verbose_name="县（市、区）"
    )
    old_value = models.PositiveIntegerField("原常住人口", null=True, blank=True)
    new_value = models.PositiveIntegerField("新常住人口", null=True, blank=True)
    old_year = models.PositiveSmallIntegerField("原年份", null=True, blank=True)
    new_year = models.PositiveSmallIntegerField("新年份", null=True, blank=True)
    old_basis = models.CharField("原口径", max_length=10, choices=PopulationBasis.choices, blank=True)
    new_basis = models.CharField("新口径", max_length=10, choices=PopulationBasis.choices)
    source = models.TextField("来源", blank=True)
    reason = models.CharField("修改原因", max_length=300)
    # A name, not a foreign key: places sits below accounts (the users), and a log line keeps the name it had.
    changed_by = models.CharField("修改人", max_length=150, blank=True, help_text="空：区划数据载入命令")
    changed_at = models.DateTimeField("修改时间", auto_now_add=True)

    class Meta:
        verbose_name = "常住人口修改记录"
        verbose_name_plural = "常住人口修改记录"
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.county_id} {self.old_value}→{self.new_value}"


class Town(models.Model):
    """A town-level unit (镇/乡/街道, or an NBS statistical unit such as a 开发区)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="towns", verbose_name="县（市、区）")
    code = models.CharField("统计用区划代码", max_length=12, unique=True, validators=[division_code_validator])
    name = models.CharField("名称", max_length=50)

    class Meta:
        verbose_name = "乡镇（街道）"
        verbose_name_plural = "乡镇（街道）"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "name"],
                name="town_unique_name_in_county",
                violation_error_message="同一县内乡镇名称不能重复",
            )
        ]

    def __str__(self):
        return self.name


class Village(models.Model):
    """A village-level unit (村委会/居委会); ``short_name`` is how people write it ("周庄村")."""

    town = models.ForeignKey(Town, on_delete=models.PROTECT, related_name="villages", verbose_name="乡镇（街道）")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="villages", verbose_name="县（市、区）")
    code = models.CharField("统计用区划代码", max_length=12, unique=True, validators=[division_code_validator])
    name = models.CharField("名称", max_length=60)
    short_name = models.CharField("简称", max_length=60, db_index=True)
    is_placeholder = models.BooleanField(
        "虚拟社区", default=False, help_text="国家统计局为开发区、监所等设的虚拟社区，不参与排名"
    )

    class Meta:
        verbose_name = "村（社区）"
        verbose_name_plural = "村（社区）"
        ordering = ["code"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.short_name:
            self.short_name = short_village_name(self.name)
        if self.town_id and not self.county_id:
            self.county_id = self.town.county_id
        super().save(*args, **kwargs)

    @staticmethod
    def name_matches(queryset, name: str):
        """Villages of ``queryset`` whose official or short name is ``name`` (either spelling)."""
        name = clean_name(name)
        return queryset.filter(
            models.Q(name=name) | models.Q(short_name=name) | models.Q(short_name=short_village_name(name))
        )


class GridArea(models.Model):
    """A 网格 inside one village, the unit a grid worker looks after."""

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="grids", verbose_name="村（社区）")
    name = models.CharField("网格名称", max_length=60)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "网格"
        verbose_name_plural = "网格"
        ordering = ["village_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["village", "name"],
                name="grid_unique_name_in_village",
                violation_error_message="同一村（社区）内网格名称不能重复",
            )
        ]

    def __str__(self):
        return f"{self.village.short_name}·{self.name}" if self.village_id else self.name


class Zone(models.Model):
    """A 作战宣传片区: a named group of towns of one county."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="zones", verbose_name="县（市、区）")
    name = models.CharField("片区名称", max_length=60)
    towns = models.ManyToManyField(Town, related_name="zones", verbose_name="包含乡镇", blank=True)

    class Meta:
        verbose_name = "作战宣传片区"
        verbose_name_plural = "作战宣传片区"
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "name"],
                name="zone_unique_name_in_county",
                violation_error_message="同一县内片区名称不能重复",
            )
        ]

    def __str__(self):
        return self.name

    def clean_towns(self, towns) -> None:
        """A zone groups towns of its own county only (a 片区 user would otherwise reach another county)."""
        if not self.county_id:
            return  # the form's own "county is required" says what is missing
        outside = [town for town in towns if town.county_id != self.county_id]
        if outside:
            names = "、".join(town.name for town in outside)
            raise ValidationError({"towns": f"片区只能包含本县（市、区）的乡镇，这些乡镇不属于本县：{names}"})


@receiver(m2m_changed, sender=Zone.towns.through)
def _zone_towns_stay_in_the_county(sender, instance, action, reverse, pk_set, **kwargs):
    """Whatever adds towns to a zone (admin, import, shell) keeps them inside the zone's county."""
    if action != "pre_add" or not pk_set:
        return
    if reverse:
        for zone in Zone.objects.filter(pk__in=pk_set):
            zone.clean_towns([instance])
    else:
        instance.clean_towns(Town.objects.filter(pk__in=pk_set))
