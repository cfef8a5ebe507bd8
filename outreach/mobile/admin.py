"""Admin lists for county and town staff: integrity flags to review and call-back checks, both scoped."""

from django.contrib import admin, messages

from outreach.accounts.admin_base import OutreachModelAdmin
from outreach.accounts.scoping import scope_queryset
from outreach.mobile.models import CallbackCheck, IntegrityFlag
from outreach.mobile.services import delete_flags, record_callback_result, review_flags


class _ScopedAdmin(OutreachModelAdmin):
    def get_queryset(self, request):
        return scope_queryset(request.user, super().get_queryset(request))

    def has_add_permission(self, request):
        return False  # flags come from the scan, call-backs from the draw (回访抽查 page)


@admin.register(IntegrityFlag)
class IntegrityFlagAdmin(_ScopedAdmin):
    list_display = ["visit", "kind", "detail", "visit_recorder", "visit_time", "status", "reviewed_by"]
    list_select_related = ["visit__household", "visit__recorded_by", "reviewed_by"]
    list_filter = ["status", "kind"]
    search_fields = ["^visit__household__head_name", "^visit__recorded_by__username"]
    readonly_fields = ["visit", "kind", "detail", "created_at", "reviewed_by", "reviewed_at"]
    fields = ["visit", "kind", "detail", "created_at", "status", "review_note", "reviewed_by", "reviewed_at"]
    actions = ["mark_cleared", "mark_confirmed"]

    @admin.display(description="录入人")
    def visit_recorder(self, obj):
        return obj.visit.recorded_by or "—"

    @admin.display(description="走访时间", ordering="visit__visited_at")
    def visit_time(self, obj):
        return obj.visit.visited_at

    def save_model(self, request, obj, form, change):
        review_flags(request.user, IntegrityFlag.objects.filter(pk=obj.pk), obj.status, obj.review_note)

    def delete_model(self, request, obj):
        delete_flags(IntegrityFlag.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        delete_flags(queryset)

    @admin.action(description="审核：确认无误", permissions=["change"])
    def mark_cleared(self, request, queryset):
        n = review_flags(request.user, queryset, IntegrityFlag.Status.CLEARED)
        self.message_user(request, f"已将{n}条疑点审核为确认无误", messages.SUCCESS)

    @admin.action(description="审核：确认有误", permissions=["change"])
    def mark_confirmed(self, request, queryset):
        n = review_flags(request.user, queryset, IntegrityFlag.Status.CONFIRMED)
        self.message_user(request, f"已将{n}条疑点审核为确认有误", messages.SUCCESS)


@admin.register(CallbackCheck)
class CallbackCheckAdmin(_ScopedAdmin):
    list_display = ["visit", "worker", "drawn_at", "result", "checked_by", "checked_at"]
    list_select_related = ["visit__household", "worker", "checked_by"]
    list_filter = ["result"]
    search_fields = ["^visit__household__head_name", "^worker__username"]
    readonly_fields = ["visit", "worker", "drawn_by", "drawn_at", "checked_by", "checked_at"]
    fields = ["visit", "worker", "drawn_by", "drawn_at", "result", "note", "checked_by", "checked_at"]

    def save_model(self, request, obj, form, change):
        if obj.result == CallbackCheck.Result.PENDING:
            super().save_model(request, obj, form, change)
        else:
            record_callback_result(request.user, obj.pk, obj.result, obj.note)
