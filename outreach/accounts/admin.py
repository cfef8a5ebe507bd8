from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from import_export.admin import ImportExportMixin

from outreach.accounts import admin_places  # noqa: F401 - registers the admin of places
from outreach.accounts.admin_base import CountyFilter, ProtectedImportExportMixin, ScopedAdminMixin, TownFilter
from outreach.accounts.models import AccessLog, Role, User
from outreach.accounts.resources import UserResource
from outreach.accounts.scoping import area_of


@admin.register(User)
class UserAdmin(ScopedAdminMixin, ProtectedImportExportMixin, ImportExportMixin, DjangoUserAdmin):
    """Users of the user's own area; county admins create their county's staff, never a city admin."""

    resource_classes = [UserResource]
    access_log_subject = "用户"
    phone_fields = ("phone",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_display = ["username", "full_name", "phone", "role", "county", "town", "is_active", "last_login"]
    list_select_related = ["county", "town"]
    list_filter = ["role", "is_active", CountyFilter, TownFilter]
    search_fields = ["username", "last_name", "first_name", "=phone"]
    autocomplete_fields = ["county", "town", "zone", "grids"]
    fieldsets = DjangoUserAdmin.fieldsets + (
        ("工作范围", {"fields": ("role", "phone", "county", "town", "zone", "grids")}),
    )
    add_fieldsets = DjangoUserAdmin.add_fieldsets + (
        ("工作范围", {"fields": ("role", "phone", "county", "town", "zone", "grids")}),
    )

    def get_queryset(self, request):
        users = super().get_queryset(request)
        if not request.user.is_superuser:
            users = users.exclude(is_superuser=True)
        return users

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # Only superusers hand out superuser status or per-user permissions; roles grant the rest.
        hidden = {"is_superuser", "groups", "user_permissions"}
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for title, options in fieldsets
        ]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not area_of(request.user).everything:
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value != Role.CITY]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="姓名")
    def full_name(self, obj):
        return f"{obj.last_name}{obj.first_name}"


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """个人信息访问记录: city admins read and filter it; nobody adds, changes or deletes (superusers neither)."""

    date_hierarchy = "at"
    list_display = ["at", "username", "kind", "subject", "scope", "rows", "filename", "ip_address"]
    list_filter = ["kind", "at"]
    search_fields = ["=username", "subject", "filename"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    actions = None

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.has_perm("accounts.view_accesslog")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Permissions come from the user's role (accounts.permissions.RoleBackend), not from groups.
admin.site.unregister(Group)
