from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group

from outreach.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "full_name", "role", "county", "town", "is_active", "last_login"]
    list_select_related = ["county", "town"]
    list_filter = ["role", "is_active", "county"]
    search_fields = ["username", "last_name", "first_name", "=phone"]
    autocomplete_fields = ["county", "town", "zone", "grids"]
    fieldsets = DjangoUserAdmin.fieldsets + (
        ("工作范围", {"fields": ("role", "phone", "county", "town", "zone", "grids")}),
    )
    add_fieldsets = DjangoUserAdmin.add_fieldsets + (("工作范围", {"fields": ("role", "county", "town", "zone")}),)

    @admin.display(description="姓名")
    def full_name(self, obj):
        return f"{obj.last_name}{obj.first_name}"


# Permissions come from the user's role (accounts.permissions.RoleBackend), not from groups.
admin.site.unregister(Group)
