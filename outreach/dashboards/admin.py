"""督办单 in the admin: read-only (steps are only ever added through the 督办 pages, which check who may
move an order), scoped like every admin page, each order linking to its page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from outreach.accounts.admin_base import CountyFilter, OutreachModelAdmin, OutreachTabularInline, ReadOnlyAdminMixin
from outreach.dashboards.models import SupervisionOrder, SupervisionStep


class SupervisionStepInline(OutreachTabularInline):
    model = SupervisionStep
    fields = ("state", "actor", "at", "text", "late", "attachment_link")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "办理记录"
    verbose_name_plural = "办理记录"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="附件")
    def attachment_link(self, step):
        if not step.attachment:
            return "—"
        url = reverse("dashboards:supervision_attachment", args=[step.pk])
        return format_html('<a href="{}">下载</a>', url)


@admin.register(SupervisionOrder)
class SupervisionOrderAdmin(ReadOnlyAdminMixin, OutreachModelAdmin):
    list_display = ("unit_name", "state", "deadline", "reason", "bulletin", "assignee", "created_at", "page_link")
    list_filter = ("state", "reason", CountyFilter)
    list_select_related = ("bulletin", "assignee")
    search_fields = ("unit_name",)
    date_hierarchy = None
    inlines = [SupervisionStepInline]
    fields = (
        "unit_name",
        "county",
        "town",
        "village",
        "reason",
        "reason_text",
        "bulletin",
        "deadline",
        "assignee",
        "state",
        "created_by",
        "created_at",
        "updated_at",
        "page_link",
    )
    readonly_fields = fields

    @admin.display(description="督办页面")
    def page_link(self, order):
        return format_html(
            '<a href="{}">签收、回复、办结</a>', reverse("dashboards:supervision_detail", args=[order.pk])
        )
