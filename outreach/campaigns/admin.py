from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from outreach.accounts.admin_base import (
    CountyFilter,
    OutreachHistoryAdmin,
    OutreachModelAdmin,
    OutreachTabularInline,
    TownFilter,
    extend_admin,
)
from outreach.accounts.models import AccessLog
from outreach.accounts.scoping import scope_queryset
from outreach.accounts.services import record_access
from outreach.campaigns.models import Assignment, Campaign
from outreach.campaigns.services import reassign_households
from outreach.people.models import PartyMember


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
            {
                "fields": [
                    "require_entered",
                    "require_met_person",
                    "require_explained",
                    "require_signed",
                    "exclude_flagged",
                ]
            },
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
    # By the household's place (village, household), as the household list: page 1 is read along the household
    # indexes of the user's county or town. The model's order (campaign, member) has no such path for a scoped
    # user: a county whose members come late in that order was found by walking the whole city (0.5–2.8 s).
    ordering = ["household__village_id", "household_id", "campaign_id"]

    @admin.display(description="村（社区）")
    def village_name(self, obj):
        return obj.household.village.name

    def save_model(self, request, obj, form, change):
        obj.assigned_by = request.user
        super().save_model(request, obj, form, change)


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
        members = (
            PartyMember.objects.on_roster().filter(county_id__in=county_ids, is_active=True).exclude(pk__in=exclude_ids)
        )
        # Only members the user may see: a town clerk hands households to members of their own town.
        self.fields["to_member"].queryset = scope_queryset(user, members).select_related("organization")


class MemberAssignmentsMixin:
    """On the party member's admin (people): the member's 包联户, and handing them over to another member."""

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


extend_admin(PartyMember, MemberAssignmentsMixin, inlines=[AssignmentInline], actions=["reassign_households"])
