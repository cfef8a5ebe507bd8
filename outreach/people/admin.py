import re

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from outreach.accounts.admin_base import (
    CountyFilter,
    OutreachHistoryAdmin,
    OutreachModelAdmin,
    OutreachTabularInline,
    TownFilter,
)
from outreach.lib.names import clean_name
from outreach.lib.phones import normalize_phone
from outreach.people.models import Household, PartyMember, PartyOrganization, Resident, Team

# Words that mark a search term as part of an address rather than a person's name.
ADDRESS_HINT = re.compile(r"[0-9号路街巷组楼栋单元室弄排]")


@admin.register(PartyOrganization)
class PartyOrganizationAdmin(OutreachModelAdmin):
    list_display = ["name", "kind", "county", "town", "village", "parent"]
    list_select_related = ["county", "town", "village", "parent"]
    list_filter = [CountyFilter, TownFilter, "kind"]
    search_fields = ["name"]
    autocomplete_fields = ["county", "town", "village", "parent"]


@admin.register(PartyMember)
class PartyMemberAdmin(OutreachModelAdmin):
    """The members; campaigns adds their 包联户 and the 移交包联户 action (``extend_admin``), people imports no campaign."""

    phone_fields = ("phone",)
    list_display = ["name", "phone", "organization", "county", "is_active", "user"]
    list_select_related = ["organization", "county", "user"]
    list_filter = [CountyFilter, "is_active"]
    search_fields = ["name", "=phone"]
    autocomplete_fields = ["organization", "user", "county"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Team)
class TeamAdmin(OutreachModelAdmin):
    list_display = ["name", "county", "zone", "leader"]
    list_select_related = ["county", "zone", "leader"]
    list_filter = [CountyFilter]
    search_fields = ["name"]
    autocomplete_fields = ["county", "zone", "leader", "members"]


class ResidentInline(OutreachTabularInline):
    model = Resident
    phone_fields = ("phone",)
    extra = 0
    fields = ["name", "phone", "is_head", "app_installed", "app_registered", "app_verified", "alerts_enabled"]


class HouseholdAdminForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = [  # noqa: DJ007 - the admin's fieldsets choose what is shown
            "head_name",
            "phone",
            "address",
            "size",
            "note",
            "village",
            "grid",
            "elderly_alone",
            "left_behind",
            "student_family",
            "no_smartphone",
        ]

    def clean(self):
        cleaned = super().clean()
        grid, village = cleaned.get("grid"), cleaned.get("village")
        if grid and village and grid.village_id != village.pk:
            self.add_error("grid", "所选网格不在该村（社区）内")
        return cleaned


ADDRESS_SHOWN = 24


@admin.register(Household)
class HouseholdAdmin(OutreachHistoryAdmin):
    phone_fields = ("phone",)
    form = HouseholdAdminForm
    list_display = ["head_name", "phone", "short_address", "size", "village", "town", "county", "grid"]
    list_select_related = ["village", "town", "county", "grid__village"]
    list_filter = [CountyFilter, TownFilter, "elderly_alone", "left_behind", "student_family", "no_smartphone"]
    # Each search goes to the one column it looks like (see get_search_results): OR-ing a %LIKE% on the
    # address into every search made PostgreSQL scan all million rows (0.5 s for a city user).
    search_fields = ["=phone", "^head_name", "address"]
    search_help_text = (
        "输入手机号精确查找；输入姓名按户主姓名开头查找；含“号、路、街、巷、组”等字或数字的按家庭住址查找。"
    )
    autocomplete_fields = ["village", "grid"]
    readonly_fields = ["county", "town", "created_at", "updated_at"]

    @admin.display(description="家庭住址", ordering="address")
    def short_address(self, obj):
        # One line per household in the list: a long address is cut, the whole of it on hover.
        address = obj.address or ""
        if len(address) <= ADDRESS_SHOWN:
            return address
        return format_html('<span title="{}">{}…</span>', address, address[: ADDRESS_SHOWN - 1])

    fieldsets = [
        (None, {"fields": ["head_name", "phone", "address", "size", "note"]}),
        ("所在地", {"fields": ["village", "grid", "town", "county"]}),
        ("重点人群", {"fields": ["elderly_alone", "left_behind", "student_family", "no_smartphone"]}),
        ("记录", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [ResidentInline]

    def get_search_results(self, request, queryset, search_term):
        """A phone number by exact match, an address by its words, otherwise the 户主姓名 by its start."""
        term = clean_name(search_term)
        if not term:
            return queryset, False
        digits = normalize_phone(term)
        if digits.isdigit() and len(digits) >= 7:
            return queryset.filter(phone=digits), False
        if ADDRESS_HINT.search(term):
            return queryset.filter(address__contains=term), False
        # startswith, not istartswith: Chinese names have no case, and LIKE 'x%' uses the pattern index.
        return queryset.filter(head_name__startswith=term), False


@admin.register(Resident)
class ResidentAdmin(OutreachModelAdmin):
    phone_fields = ("phone",)
    list_display = [
        "name",
        "phone",
        "household",
        "is_head",
        "app_installed",
        "app_registered",
        "app_verified",
        "alerts_enabled",
    ]
    list_select_related = ["household"]
    list_filter = ["app_installed", "app_registered", "app_verified", "alerts_enabled"]
    search_fields = ["^name", "=phone"]
    autocomplete_fields = ["household"]
