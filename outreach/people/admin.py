import re

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from outreach.accounts.admin_base import (
    CountyFilter,
    OutreachHistoryAdmin,
    OutreachModelAdmin,
    OutreachTabularInline,
    ReadOnlyAdminMixin,
    TownFilter,
)
from outreach.lib.names import clean_name
from outreach.lib.phones import normalize_phone
from outreach.lib.signals import field_data_changed
from outreach.people.models import Household, PartyMember, PartyOrganization, Resident, RosterCorrection, Team
from outreach.people.services import (
    HOUSEHOLD_FIELDS,
    MEMBER_FIELDS,
    date_changes,
    needs_reason,
    roster_corrections,
)

# Words that mark a search term as part of an address rather than a person's name.
ADDRESS_HINT = re.compile(r"[0-9号路街巷组楼栋单元室弄排]")


@admin.register(PartyOrganization)
class PartyOrganizationAdmin(OutreachModelAdmin):
    list_display = ["name", "kind", "county", "town", "village", "parent"]
    list_select_related = ["county", "town", "village", "parent"]
    list_filter = [CountyFilter, TownFilter, "kind"]
    search_fields = ["name"]
    autocomplete_fields = ["county", "town", "village", "parent"]


class RosterDatesForm(forms.ModelForm):
    """A roster date moved to a day already past changes figures that were shown: the form asks why."""

    roster_fields: tuple = ()
    correction_reason = forms.CharField(
        label="更正原因",
        required=False,
        max_length=300,
        help_text="把列入、移出（离开）日期填成或改成今天以前的日期，会改变已经发布的排名数字（事后更正），须写明原因；"
        "排名页面会注明这次更正",
    )

    def clean(self):
        cleaned = super().clean()
        obj = self.instance
        before = None if obj.pk is None else type(obj).objects.filter(pk=obj.pk).values(*self.roster_fields).first()
        probe = type(obj)(**{name: cleaned.get(name, getattr(obj, name)) for name in self.roster_fields})
        self.roster_changes = [c.__class__(obj, c.field, c.old, c.new, c.new_row) for c in date_changes(probe, before)]
        if needs_reason(self.roster_changes) and not cleaned.get("correction_reason", "").strip():
            self.add_error("correction_reason", "日期早于今天，会改变已经发布的数字（事后更正），请写明更正原因")
        return cleaned


class RosterDatesAdminMixin:
    """Saves record the roster corrections the form found, mark the villages stale, and never delete.

    A household or member leaves the roster with an end date and a reason (注销), so every earlier ranking keeps
    counting it. Deleting is left to superusers for records entered by mistake, with a warning that the
    figures of every day it was on the roster change.
    """

    def save_model(self, request, obj, form, change):
        before_village = type(obj).objects.filter(pk=obj.pk).values_list(self.village_path, flat=True).first()
        super().save_model(request, obj, form, change)
        reason = form.cleaned_data.get("correction_reason", "")
        roster_corrections(getattr(form, "roster_changes", []), user=request.user, reason=reason)
        after_village = type(obj).objects.filter(pk=obj.pk).values_list(self.village_path, flat=True).first()
        field_data_changed.send(sender=type(obj), village_ids={before_village, after_village} - {None})

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "GET":
            messages.warning(
                request,
                "删除会让这条记录从它在花名册上的每一天的排名数字里消失（包括已经发布过的日期）。迁出、注销、调离请改为填写"
                "移出（离开）日期和原因，记录会保留，此前的排名不变；只有录入错误的记录才应删除。",
            )
        return super().delete_view(request, object_id, extra_context)


class PartyMemberAdminForm(RosterDatesForm):
    roster_fields = tuple(MEMBER_FIELDS)

    class Meta:
        model = PartyMember
        fields = [  # noqa: DJ007 - the admin's fieldsets choose what is shown
            "name", "phone", "organization", "county", "user", "is_active", "joined_on", "left_on", "left_reason",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("left_on") and not cleaned.get("left_reason"):
            self.add_error("left_reason", "填写离开日期时须选离开原因")
        if cleaned.get("left_reason") and not cleaned.get("left_on"):
            self.add_error("left_on", "选了离开原因，须填写离开日期")
        return cleaned


@admin.register(PartyMember)
class PartyMemberAdmin(RosterDatesAdminMixin, OutreachModelAdmin):
    """The members; campaigns adds their 包联户 and the 移交包联户 action (``extend_admin``), people imports no campaign."""

    form = PartyMemberAdminForm
    village_path = "organization__village_id"
    phone_fields = ("phone",)
    list_display = ["name", "phone", "organization", "county", "is_active", "joined_on", "left_on", "user"]
    list_select_related = ["organization", "county", "user"]
    list_filter = [CountyFilter, "is_active", "left_reason"]
    search_fields = ["name", "=phone"]
    autocomplete_fields = ["organization", "user", "county"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "phone", "organization", "county", "user", "is_active"]}),
        ("名册", {"fields": ["joined_on", "left_on", "left_reason", "correction_reason"]}),
        ("记录", {"fields": ["created_at", "updated_at"]}),
    ]


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


class HouseholdAdminForm(RosterDatesForm):
    roster_fields = HOUSEHOLD_FIELDS

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
            "roster_start",
            "roster_end",
            "end_reason",
            "end_note",
        ]

    def clean(self):
        cleaned = super().clean()
        grid, village = cleaned.get("grid"), cleaned.get("village")
        if grid and village and grid.village_id != village.pk:
            self.add_error("grid", "所选网格不在该村（社区）内")
        obj = self.instance
        if obj.pk is not None and village and village.pk != obj.village_id and obj.roster_start < timezone.localdate():
            # Moving in place would rewrite both villages' past figures: a move is two roster facts.
            self.add_error(
                "village",
                "这一户已在原村的花名册中，不能直接改到别的村：迁到别的村请填写移出花名册日期和移出原因“迁出”，"
                "再在新村新增一户（当天新录入、录错了村的户可以直接改）",
            )
        if cleaned.get("roster_end") and not cleaned.get("end_reason"):
            self.add_error("end_reason", "填写移出花名册日期时须选移出原因")
        if cleaned.get("end_reason") and not cleaned.get("roster_end"):
            self.add_error("roster_end", "选了移出原因，须填写移出花名册日期")
        return cleaned


ADDRESS_SHOWN = 24


class RosterStateFilter(admin.SimpleListFilter):
    title = "花名册"
    parameter_name = "roster"

    def lookups(self, request, model_admin):
        return [("on", "在册"), ("ended", "已移出（迁出、注销）")]

    def queryset(self, request, queryset):
        if self.value() == "on":
            return queryset.on_roster()
        if self.value() == "ended":
            return queryset.exclude(pk__in=queryset.on_roster().values("pk"))
        return queryset


@admin.register(Household)
class HouseholdAdmin(RosterDatesAdminMixin, OutreachHistoryAdmin):
    phone_fields = ("phone",)
    form = HouseholdAdminForm
    village_path = "village_id"
    list_display = [
        "head_name", "phone", "short_address", "size", "village", "town", "county", "grid_name", "roster_end",
    ]  # fmt: skip
    list_select_related = ["village", "town", "county", "grid"]
    list_filter = [
        CountyFilter,
        TownFilter,
        RosterStateFilter,
        "elderly_alone",
        "left_behind",
        "student_family",
        "no_smartphone",
    ]
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

    @admin.display(description="网格", ordering="grid")
    def grid_name(self, obj):
        # The grid as its own name says it (村·网格), from the household's village already on the row: one join
        # fewer for every page. A grid of another village (never saved by the forms or imports) is asked for.
        grid = obj.grid
        if grid is None:
            return None
        if grid.village_id == obj.village_id:
            grid.village = obj.village
        return str(grid)

    fieldsets = [
        (None, {"fields": ["head_name", "phone", "address", "size", "note"]}),
        ("所在地", {"fields": ["village", "grid", "town", "county"]}),
        ("重点人群", {"fields": ["elderly_alone", "left_behind", "student_family", "no_smartphone"]}),
        (
            "花名册",
            {
                "fields": ["roster_start", "roster_end", "end_reason", "end_note", "correction_reason"],
                "description": "迁出、注销的户不要删除：填写移出花名册日期和原因，此前的排名照常计入这一户，之后不再计入，"
                "也不再出现在督办清单和手机上。",
            },
        ),
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


@admin.register(RosterCorrection)
class RosterCorrectionAdmin(ReadOnlyAdminMixin, OutreachModelAdmin):
    """The corrections, read only: written by the roster's saves and imports, never by hand."""

    list_display = [
        "recorded_at",
        "subject",
        "field",
        "old_value",
        "new_value",
        "affects_from",
        "reason",
        "recorded_by",
    ]
    list_select_related = ["recorded_by"]
    list_filter = [CountyFilter, "field"]
    search_fields = ["^subject"]
    readonly_fields = [f.name for f in RosterCorrection._meta.fields]
