"""The admin of places (counties, towns, villages, grids, zones), registered by accounts.

places sits below accounts and imports no app, so its admin lives with the scoped admin base it needs;
the places are also what every user's area is made of (the user admin autocompletes them).
"""

from django import forms
from django.contrib import admin

from outreach.accounts.admin_base import (
    CountyFilter,
    OutreachModelAdmin,
    ReadOnlyAdminMixin,
    TownFilter,
    checking_many_to_many,
)
from outreach.places.models import County, GridArea, PopulationChange, Town, Village, Zone
from outreach.places.services import set_population

POPULATION_FIELDS = ("population", "population_year", "population_basis", "population_source")


class CountyAdminForm(forms.ModelForm):
    """The 常住人口 is the denominator of every rate per person: changing it says why, and is logged."""

    population_reason = forms.CharField(
        label="修改原因",
        required=False,
        max_length=300,
        help_text="修改常住人口、年份、口径或来源时必填，如“按2021年8月13日市公安局通报给出的常住人口”",
    )

    class Meta:
        model = County
        fields = ["name", *POPULATION_FIELDS]

    def clean(self):
        cleaned = super().clean()
        changed = any(name in self.changed_data for name in POPULATION_FIELDS)
        if changed and not cleaned.get("population_reason", "").strip():
            self.add_error("population_reason", "修改常住人口（或其年份、口径、来源）须写明原因")
        return cleaned


@admin.register(County)
class CountyAdmin(OutreachModelAdmin):
    form = CountyAdminForm
    list_display = ["code", "name", "population", "population_year", "population_basis"]
    search_fields = ["name", "=code"]
    readonly_fields = ["code"]
    fields = ["code", "name", *POPULATION_FIELDS, "population_reason"]

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        values = {name: form.cleaned_data.get(name) for name in POPULATION_FIELDS}
        # The name through the model; the population only through the service, which logs it.
        stored = County.objects.get(pk=obj.pk)
        obj.population, obj.population_year = stored.population, stored.population_year
        obj.population_basis, obj.population_source = stored.population_basis, stored.population_source
        obj.save(update_fields=["name"])
        set_population(
            obj,
            values["population"],
            year=values["population_year"],
            basis=values["population_basis"],
            source=values["population_source"] or "",
            reason=form.cleaned_data.get("population_reason", ""),
            user=request.user,
        )


@admin.register(PopulationChange)
class PopulationChangeAdmin(ReadOnlyAdminMixin, OutreachModelAdmin):
    """Every change of a county's 常住人口, read only (append-only: the database refuses edits)."""

    list_display = ["changed_at", "county", "old_value", "new_value", "new_year", "new_basis", "reason", "changed_by"]
    list_select_related = ["county"]
    list_filter = [CountyFilter]
    readonly_fields = [f.name for f in PopulationChange._meta.fields]


@admin.register(Town)
class TownAdmin(OutreachModelAdmin):
    list_display = ["code", "name", "county"]
    list_select_related = ["county"]
    list_filter = [CountyFilter]
    search_fields = ["name", "=code"]
    autocomplete_fields = ["county"]


@admin.register(Village)
class VillageAdmin(OutreachModelAdmin):
    list_display = ["code", "name", "short_name", "town", "county", "is_placeholder"]
    list_select_related = ["town", "county"]
    list_filter = [CountyFilter, TownFilter, "is_placeholder"]
    search_fields = ["name", "short_name", "=code"]
    autocomplete_fields = ["town", "county"]


class GridCountyFilter(CountyFilter):
    field_path = "village__county_id"


class GridTownFilter(TownFilter):
    field_path = "village__town_id"


@admin.register(GridArea)
class GridAreaAdmin(OutreachModelAdmin):
    list_display = ["name", "village", "town_name", "county_name"]
    list_select_related = ["village__town", "village__county"]
    list_filter = [GridCountyFilter, GridTownFilter]
    search_fields = ["name", "village__name", "village__short_name"]
    autocomplete_fields = ["village"]

    @admin.display(description="乡镇（街道）", ordering="village__town__name")
    def town_name(self, obj):
        return obj.village.town.name

    @admin.display(description="县（市、区）", ordering="village__county__name")
    def county_name(self, obj):
        return obj.village.county.name


@admin.register(Zone)
class ZoneAdmin(OutreachModelAdmin):
    list_display = ["name", "county", "town_names"]
    list_select_related = ["county"]
    list_filter = [CountyFilter]
    search_fields = ["name"]
    autocomplete_fields = ["county", "towns"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("towns")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        return checking_many_to_many(form, "towns", "clean_towns")

    @admin.display(description="包含乡镇")
    def town_names(self, obj):
        return "、".join(town.name for town in obj.towns.all())
