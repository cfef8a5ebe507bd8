from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from outreach.accounts.admin_base import (
    CountyFilter,
    OutreachHistoryAdmin,
    OutreachModelAdmin,
    OutreachTabularInline,
    TownFilter,
)
from outreach.accounts.models import AccessLog
from outreach.accounts.scoping import scope_queryset
from outreach.accounts.services import record_access
from outreach.campaigns.models import Assignment, Campaign
from outreach.campaigns.services import reassign_households
from outreach.people.models import Household, PartyMember, PartyOrganization, Resident, Team


@admin.register(PartyOrganization)
class PartyOrganizationAdmin(OutreachModelAdmin):
    list_display = ["name", "kind", "county", "town", "village", "parent"]
    list_select_related = ["county", "town", "village", "parent"]
    list_filter = [CountyFilter, TownFilter, "kind"]
    search_fields = ["name"]
    autocomplete_fields = ["county", "town", "village", "parent"]


class AssignmentInline(OutreachTabularInline):
    model = Assignment
    fk_name = "member"
    extra = 0
    autocomplete_fields = ["household", "campaign"]
    fields = ["campaign", "household", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name = "包联户"
    verbose_name_plural = "包联户"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign", "household")


class ReassignForm(forms.Form):
    to_member = forms.ModelChoiceField(
        queryset=PartyMember.objects.none(), label="移交给", help_text="同一县（市、区）的在岗党员"
    )
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.all(), required=False, label="活动", empty_label="全部活动"
    )

    def __init__(self, *args, user=None, county_ids=(), exclude_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        members = PartyMember.objects.filter(county_id__in=county_ids, is_active=True).exclude(pk__in=exclude_ids)
        # Only members the user may see: a town clerk hands households to members of their own town.
        self.fields["to_member"].queryset = scope_queryset(user, members).select_related("organization")


@admin.register(PartyMember)
class PartyMemberAdmin(OutreachModelAdmin):
    phone_fields = ("phone",)
    list_display = ["name", "phone", "organization", "county", "is_active", "user"]
    list_select_related = ["organization", "county", "user"]
    list_filter = [CountyFilter, "is_active"]
    search_fields = ["name", "=phone"]
    autocomplete_fields = ["organization", "user", "county"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [AssignmentInline]
    actions = ["reassign_households"]

    @admin.action(description="移交所选党员的全部包联户", permissions=["change"])
    def reassign_households(self, request, queryset):
        members = list(queryset.select_related("county"))
        county_ids = {m.county_id for m in members}
        if len(county_ids) != 1:
            self.message_user(request, "请只选择同一县（市、区）的党员进行移交。", messages.ERROR)
            return None
        form = ReassignForm(
            request.POST if "confirm" in request.POST else None,
            user=request.user,
            county_ids=county_ids,
            exclude_ids=[m.pk for m in members],
        )
        if "confirm" in request.POST and form.is_valid():
            target = form.cleaned_data["to_member"]
            moved = 0
            for member in members:
                moved += reassign_households(member, target, form.cleaned_data["campaign"], by_user=request.user)
            record_access(
                request.user,
                AccessLog.Kind.BULK_CHANGE,
                "包联关系",
                rows=moved,
                detail=f"移交包联户给{target.name}",
                request=request,
            )
            self.message_user(request, f"已将 {moved} 户移交给 {target.name}。", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/people/partymember/reassign.html",
            {
                **self.admin_site.each_context(request),
                "title": "移交包联户",
                "members": members,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


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


@admin.register(Household)
class HouseholdAdmin(OutreachHistoryAdmin):
    phone_fields = ("phone",)
    form = HouseholdAdminForm
    list_display = ["head_name", "phone", "address", "size", "village", "town", "county", "grid"]
    list_select_related = ["village", "town", "county", "grid__village"]
    list_filter = [CountyFilter, TownFilter, "elderly_alone", "left_behind", "student_family", "no_smartphone"]
    # Exact phone and name-prefix searches use indexes; a million rows rule out %LIKE% on every column.
    search_fields = ["=phone", "^head_name", "address"]
    autocomplete_fields = ["village", "grid"]
    readonly_fields = ["county", "town", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["head_name", "phone", "address", "size", "note"]}),
        ("所在地", {"fields": ["village", "grid", "town", "county"]}),
        ("重点人群", {"fields": ["elderly_alone", "left_behind", "student_family", "no_smartphone"]}),
        ("记录", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [ResidentInline]


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
