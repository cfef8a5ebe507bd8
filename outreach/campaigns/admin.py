from django.contrib import admin

from outreach.accounts.admin_base import CountyFilter, OutreachHistoryAdmin, OutreachModelAdmin, TownFilter
from outreach.campaigns.models import Assignment, Campaign


@admin.register(Campaign)
class CampaignAdmin(OutreachModelAdmin):
    list_display = ["name", "start_date", "end_date", "target_visit_rate", "target_registration_rate"]
    search_fields = ["name"]
    autocomplete_fields = ["counties"]
    fieldsets = [
        (None, {"fields": ["name", "start_date", "end_date", "counties"]}),
        ("目标", {"fields": ["target_visit_rate", "target_registration_rate"]}),
        (
            "有效走访规则",
            {"fields": ["require_entered", "require_met_person", "require_explained", "require_signed"]},
        ),
    ]


class AssignmentCountyFilter(CountyFilter):
    field_path = "household__county_id"


class AssignmentTownFilter(TownFilter):
    field_path = "household__town_id"


@admin.register(Assignment)
class AssignmentAdmin(OutreachHistoryAdmin):
    list_display = ["household", "member", "campaign", "village_name", "created_at"]
    list_select_related = ["household__village", "member", "campaign"]
    list_filter = [AssignmentCountyFilter, AssignmentTownFilter, "campaign"]
    search_fields = ["^household__head_name", "=household__phone", "^member__name", "=member__phone"]
    autocomplete_fields = ["campaign", "household", "member"]
    readonly_fields = ["assigned_by", "created_at", "updated_at"]

    @admin.display(description="村（社区）")
    def village_name(self, obj):
        return obj.household.village.name

    def save_model(self, request, obj, form, change):
        obj.assigned_by = request.user
        super().save_model(request, obj, form, change)
