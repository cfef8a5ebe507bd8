"""The base every admin of the project inherits: settings that keep lists fast at a million rows."""

from django.contrib import admin

from outreach.places.models import County, Town


class OutreachModelAdmin(admin.ModelAdmin):
    """No full COUNT(*) per page, no facet counts, and a page size a county clerk can scan."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 500


class CountyFilter(admin.SimpleListFilter):
    """县（市、区） from the places table (13 rows), not a DISTINCT over the big table being listed."""

    title = "县（市、区）"
    parameter_name = "county"
    field_path = "county_id"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in County.objects.order_by("code").values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


class TownFilter(admin.SimpleListFilter):
    """乡镇（街道）, narrowed to the chosen county when one is chosen."""

    title = "乡镇（街道）"
    parameter_name = "town"
    field_path = "town_id"
    county_parameter = "county"

    def lookups(self, request, model_admin):
        towns = Town.objects.order_by("code")
        county = request.GET.get(self.county_parameter)
        if county and county.isdigit():
            towns = towns.filter(county_id=county)
        return [(str(pk), name) for pk, name in towns.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset
