from django.contrib import admin

from outreach.accounts.admin_base import OutreachModelAdmin
from outreach.dashboards.models import Bulletin, BulletinLine


class BulletinLineInline(admin.TabularInline):
    model = BulletinLine
    fields = ["position", "rank", "previous_rank", "code", "name", "bottom_streak", "figures"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bulletin)
class BulletinAdmin(OutreachModelAdmin):
    """Issued bulletins, read only: they are issued from the 通报 page and never change."""

    list_display = ["label", "title", "as_of", "level", "parent_county", "issuer", "issued_by", "issued_at"]
    list_select_related = ["parent_county", "issued_by"]
    inlines = [BulletinLineInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Bulletin._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
