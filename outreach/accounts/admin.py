from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from import_export.admin import ImportExportMixin
from import_export.forms import ImportForm

from outreach.accounts import admin_places  # noqa: F401 - registers the admin of places
from outreach.accounts.admin_base import (
    CountyFilter,
    ProtectedImportExportMixin,
    ReadOnlyAdminMixin,
    ScopedAdminMixin,
    TownFilter,
    checking_many_to_many,
)
from outreach.accounts.models import AccessLog, Role, User, roles_below
from outreach.accounts.resources import UserResource, seal_passwords
from outreach.accounts.scoping import manageable_users
from outreach.lib.uploads import GuardedTempStorage, UploadRefused, check_cell, check_upload


class UserImportForm(ImportForm):
    """The user import's upload: refused before the library reads it if it is too big, a bomb or has a cell
    longer than a clerk types (the same checks as every other import)."""

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("import_file")
        if upload is None:
            return cleaned
        try:
            check_upload(upload, upload.name, size=upload.size)
        except UploadRefused as exc:
            self.add_error("import_file", str(exc))
        return cleaned


@admin.register(User)
class UserAdmin(ScopedAdminMixin, ProtectedImportExportMixin, ImportExportMixin, DjangoUserAdmin):
    """Accounts of the user's own area below the user's level (list, change, password, delete and history).

    A county admin sees and manages the county's town admins, grid workers and members, never a county or
    city admin; only a superuser touches a superuser. Role choices are the roles below the user's own.
    """

    resource_classes = [UserResource]
    import_form_class = UserImportForm
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
        return manageable_users(request.user, super().get_queryset(request))

    # --- the import's temporary file holds hashes only, and never outlives the preview ----------------------

    def write_to_tmp_storage(self, import_file, input_format):
        data = b"".join(import_file.chunks())
        try:
            dataset = input_format.create_dataset(data)
            for row_no, row in enumerate(dataset, start=2):
                for col, value in enumerate(row):
                    check_cell(value, "用户", row_no, col)
            sealed = input_format.export_data(seal_passwords(dataset))
        except UploadRefused:
            raise
        except Exception:  # noqa: BLE001 - an unreadable file is reported by the library's own read step
            sealed = b""
        if isinstance(sealed, str):
            sealed = sealed.encode(self.from_encoding)
        storage = self.get_tmp_storage_class()(
            encoding=None if input_format.is_binary() else self.from_encoding,
            read_mode=input_format.get_read_mode(),
            **self.get_tmp_storage_class_kwargs(),
        )
        storage.save(sealed)
        return storage

    def import_action(self, request, **kwargs):
        GuardedTempStorage.sweep()
        try:
            response = super().import_action(request, **kwargs)
        except UploadRefused as exc:
            self.message_user(request, str(exc), level="error")
            return HttpResponseRedirect(request.path)
        context = getattr(response, "context_data", None) or {}
        form = context.get("form")
        if "confirm_form" not in context and form is not None and hasattr(form, "cleaned_data"):
            # Refused at preview: nothing will confirm this file, so it goes now.
            name = getattr(form.cleaned_data.get("import_file"), "tmp_storage_name", None)
            if name:
                GuardedTempStorage(name=name).remove()
        return response

    def process_import(self, request, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        finally:
            name = request.POST.get("import_file_name")
            if name:
                GuardedTempStorage(name=name).remove()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Saved and still in the transaction: an account that ends up at or above the user's level is refused.
        if not manageable_users(request.user, User.objects.filter(pk=form.instance.pk)).exists():
            raise PermissionDenied("不能创建或修改与您同级或更高级别的账号")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        return checking_many_to_many(form, "grids", "clean_grids")

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
        if db_field.name == "role":
            allowed = set(roles_below(request.user))
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value in allowed]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="姓名")
    def full_name(self, obj):
        return f"{obj.last_name}{obj.first_name}"


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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


# Permissions come from the user's role (accounts.permissions.RoleBackend), not from groups.
admin.site.unregister(Group)
