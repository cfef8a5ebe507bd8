import uuid

from django.contrib import admin

from outreach.accounts.admin_base import CountyFilter, OutreachHistoryAdmin, OutreachModelAdmin, TownFilter
from outreach.visits.models import FraudType, Visit


@admin.register(FraudType)
class FraudTypeAdmin(OutreachModelAdmin):
    list_display = ["name", "sort_order", "is_active"]
    list_editable = ["sort_order", "is_active"]
    search_fields = ["name"]


@admin.register(Visit)
class VisitAdmin(OutreachHistoryAdmin):
    date_hierarchy = "visited_at"
    list_display = [
        "household",
        "visitor",
        "visited_at",
        "entered",
        "met_person",
        "explained",
        "signed",
        "is_qualified",
        "app_registered",
        "village",
    ]
    list_select_related = ["household", "visitor", "village"]
    list_filter = [CountyFilter, TownFilter, "is_qualified", "signed", "campaign"]
    search_fields = ["^household__head_name", "=household__phone", "^visitor__name"]
    autocomplete_fields = ["campaign", "household", "visitor"]
    filter_horizontal = ["fraud_types"]
    readonly_fields = ["client_id", "is_qualified", "recorded_by", "county", "town", "village", "grid", "created_at"]
    fieldsets = [
        (None, {"fields": ["campaign", "household", "visitor", "visited_at"]}),
        ("四真", {"fields": ["entered", "met_person", "explained", "signed"]}),
        ("讲解与宣传材料", {"fields": ["fraud_types", "left_brochure", "left_letter", "left_pledge"]}),
        ("国家反诈中心App", {"fields": ["app_installed", "app_registered", "app_verified", "alerts_enabled"]}),
        ("附件与位置", {"fields": ["signature", "photo", "latitude", "longitude", "notes"]}),
        (
            "记录",
            {"fields": ["is_qualified", "client_id", "recorded_by", "county", "town", "village", "grid", "created_at"]},
        ),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.client_id = obj.client_id or uuid.uuid4()
            obj.recorded_by = request.user
        obj.fill_places()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        visit = form.instance
        qualified = visit.qualifies(visit.fraud_types.count())
        if qualified != visit.is_qualified:
            Visit.objects.filter(pk=visit.pk).update(is_qualified=qualified)
