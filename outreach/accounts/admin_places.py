"""The admin of places (counties, towns, villages, grids, zones), registered by accounts.

places sits below accounts and imports no app, so its admin lives with the scoped admin base it needs;
the places are also what every user's area is made of (the user admin autocompletes them).
"""

from django.contrib import admin

from outreach.accounts.admin_base import CountyFilter, OutreachModelAdmin, TownFilter, checking_many_to_many
from outreach.places.models import County, GridArea, Town, Village, Zone


@admin.register(County)
class CountyAdmin(OutreachModelAdmin):
    list_display = ["code", "name", "population", "population_year"]
    search_fields = ["name", "=code"]
    readonly_fields = ["code"]
    fields = ["code", "name", "population", "population_year", "population_source"]


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
