"""The base every admin of the project inherits: scoping, phone masking, and lists fast at a million rows.

Scoping is applied here once, for every admin: the change list, the change/delete/history pages (an
object outside the user's area answers 404, not the admin's "不存在" redirect), foreign-key and
many-to-many choices (so a forged POST id fails validation), list filters (only places in scope are
named) and autocomplete (Django's autocomplete view asks the *related* model's admin for its queryset,
which is this one). A form that would put a record outside the user's area is refused, and a save that
ends outside it anyway is rolled back.

Phone numbers are shown through ``display_phone``: masked in lists, history and forms for roles that do
not call households; the full number is one explicit, logged click away ("查看完整号码").
"""

import datetime
import functools
import html
import io
from urllib.parse import quote as urlquote

import tablib
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_list import ResultList, _coerce_field_name
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    NotRelationField,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    get_fields_from_path,
    lookup_field,
    quote,
    unquote,
)
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from import_export.formats import base_formats
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from outreach.accounts.models import AccessLog, User
from outreach.accounts.privacy import (
    PHONE_HEADERS,
    check_reveal_quota,
    display_phone,
    guard_phone_search,
    protect_dataset,
    sees_full_phones,
)
from outreach.accounts.scoping import area_of, in_scope, instance_in_scope, manageable_users, scope_queryset
from outreach.accounts.services import record_access
from outreach.lib import xlsx
from outreach.lib.cells import safe_cell
from outreach.lib.pagination import EstimatedCountPaginator
from outreach.lib.phones import mask_phone
from outreach.places.models import County, Town

OUT_OF_SCOPE_MESSAGE = "所选的地点或对象超出您的管辖范围，不能保存。"


class ReadOnlyAdminMixin:
    """An admin that only shows its records: nobody adds, changes or deletes them here (logs, frozen facts)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ProtectedFormMixin:
    """Mixed into admin forms: masked phone inputs and a scope check before saving."""

    _scope_user = None
    _check_scope = True
    _masked_phone_fields: tuple = ()
    _reveal_url = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._phone_originals = {}
        for name in self._masked_phone_fields:
            field = self.fields.get(name)
            current = getattr(self.instance, name, "") if self.instance.pk is not None else ""
            if field is None or not current:
                continue
            # The full number never reaches the page: the input starts empty and empty means unchanged.
            self._phone_originals[name] = current
            self.initial[name] = ""
            field.required = False
            field.widget.attrs["placeholder"] = mask_phone(current)
            if self._reveal_url:
                field.help_text = format_html(
                    '号码已打码（{}）。留空表示不修改；需要完整号码请点 <a href="{}">查看完整号码</a>（会记入访问记录）。',
                    mask_phone(current),
                    self._reveal_url,
                )
            else:
                field.help_text = "号码已打码。留空表示不修改。"

    def clean(self):
        cleaned = super().clean()
        for name, original in self._phone_originals.items():
            if not cleaned.get(name):
                cleaned[name] = original
        return cleaned

    def _post_clean(self):
        # Runs after the instance is built from the form: the last point to refuse before any save.
        super()._post_clean()
        if self._errors or not self._check_scope or self._scope_user is None:
            return
        instance = self.instance
        if hasattr(instance, "fill_places"):
            try:
                instance.fill_places()
            except (ObjectDoesNotExist, AttributeError):
                return
        if instance_in_scope(self._scope_user, instance) is False:
            self.add_error(None, OUT_OF_SCOPE_MESSAGE)


def protect_form(form_class, user, phone_fields=(), reveal_url=None, check_scope=True):
    """``form_class`` with phones masked for ``user`` (unless their role sees full numbers) and scope checked."""
    masked = () if sees_full_phones(user) else tuple(n for n in phone_fields if n in form_class.base_fields)
    attrs = {
        "_scope_user": user,
        "_check_scope": check_scope,
        "_masked_phone_fields": masked,
        "_reveal_url": reveal_url,
    }
    return type(form_class.__name__, (ProtectedFormMixin, form_class), attrs)


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter that names only the related objects inside the user's area."""

    def field_choices(self, field, request, model_admin):
        queryset = scope_queryset(request.user, field.related_model._default_manager.all())
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        if field.related_model._meta.label == "places.GridArea":
            queryset = queryset.select_related("village")
        return [(obj.pk, str(obj)) for obj in queryset]


def _scoped_field_queryset(db, db_field, request, queryset):
    if queryset is None:
        queryset = db_field.remote_field.model._default_manager.using(db).all()
    if queryset.model is User:
        # A form may link a record to a login (党员's 登录账号) only below the user's own level.
        return manageable_users(request.user, queryset)
    return scope_queryset(request.user, queryset)


def _masked_name(field):
    if isinstance(field, list | tuple):
        return type(field)(_masked_name(f) for f in field)
    return "masked_phone" if field == "phone" else field


class MaskedReadOnlyMixin:
    """On pages the user may only read, Django prints field values as they are: show the masked number."""

    phone_fields: tuple = ()

    def _masks_read_only(self, request, obj):
        return bool(self.phone_fields) and not sees_full_phones(request.user) and self._read_only(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, "masked_phone"] if self._masks_read_only(request, obj) else readonly

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._masks_read_only(request, obj):
            return fieldsets
        return [
            (title, {**options, "fields": [_masked_name(f) for f in options["fields"]]}) for title, options in fieldsets
        ]

    def _read_only(self, request, obj):
        return not self.has_change_permission(request, obj)

    @admin.display(description="电话（已打码）")
    def masked_phone(self, obj):
        return mask_phone(obj.phone) if obj is not None else ""


def checking_many_to_many(form_class, field: str, check: str):
    """``form_class`` that, after the model's own validation, passes the chosen ``field`` objects (a
    many-to-many the model's ``clean`` cannot see) to ``instance.<check>()`` and shows its errors on the form.

    Used where a many-to-many must fit the record: a grid worker's grids, a zone's towns. The models also
    refuse on every ``m2m_changed``; this turns that refusal into a form error instead of a failed save.
    """

    class CheckedForm(form_class):
        def _post_clean(self):
            super()._post_clean()
            if field in self.fields and field in self.cleaned_data:
                try:
                    getattr(self.instance, check)(self.cleaned_data[field])
                except ValidationError as exc:
                    self._update_errors(exc)

    CheckedForm.__name__ = form_class.__name__
    return CheckedForm


def _touches_phone(lookup: str) -> bool:
    return any("phone" in part for part in lookup.split("__"))


def _guarding_phone_search(get_search_results):
    """Wrap an admin's ``get_search_results`` so a search by a full phone number counts as a reveal."""
    if getattr(get_search_results, "guards_phone_search", False):
        return get_search_results

    @functools.wraps(get_search_results)
    def guarded(self, request, queryset, search_term):
        queryset, may_have_duplicates = get_search_results(self, request, queryset, search_term)
        # Once per request, however many overriding classes call up the chain.
        if search_term and getattr(request, "_outreach_phone_search", None) != search_term:
            request._outreach_phone_search = search_term
            guard_phone_search(request, str(self.model._meta.verbose_name), search_term, queryset)
        return queryset, may_have_duplicates

    guarded.guards_phone_search = True
    return guarded


class ScopedAdminMixin(MaskedReadOnlyMixin):
    """Everything an admin needs to keep a user inside their area and phone numbers masked.

    Every admin's search (list pages and the autocomplete that uses it), whoever overrides it, passes
    through ``guard_phone_search``: for roles that see masked numbers, a search by a full number is a
    logged reveal within the hour's limit, so the result list can't be used to read a masked number.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("get_search_results")
        if own is not None:
            cls.get_search_results = _guarding_phone_search(own)

    #: Model fields holding phone numbers: masked for roles that do not call households. Only fields
    #: named "phone" get the read-only masked display (all of ours are).
    phone_fields: tuple = ()

    def get_queryset(self, request):
        return scope_queryset(request.user, super().get_queryset(request))

    @_guarding_phone_search
    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term)

    def lookup_allowed(self, lookup, value, request=None):
        # The admin accepts any field lookup in the query string (?phone=…, ?phone__startswith=1380): for roles
        # that see masked numbers that would read a number digit by digit, so no lookup may touch a phone.
        if request is not None and not sees_full_phones(request.user) and _touches_phone(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_field_queryset(self, db, db_field, request):
        # Used for every foreign-key and many-to-many form field, autocomplete widgets included.
        return _scoped_field_queryset(db, db_field, request, super().get_field_queryset(db, db_field, request))

    def get_list_filter(self, request):
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str):
                try:
                    field = get_fields_from_path(self.model, item)[-1]
                except (FieldDoesNotExist, NotRelationField):
                    field = None
                if field is not None and field.is_relation:
                    item = (item, ScopedRelatedFieldListFilter)
            filters.append(item)
        return filters

    def get_list_display(self, request):
        return [
            self._phone_column(request, name) if isinstance(name, str) and name in self.phone_fields else name
            for name in super().get_list_display(request)
        ]

    def _phone_column(self, request, name):
        user = request.user

        def column(obj):
            return display_phone(user, getattr(obj, name))

        column.short_description = self.model._meta.get_field(name).verbose_name
        # Sorting by a number the user sees masked would tell its hidden digits' order.
        column.admin_order_field = name if sees_full_phones(user) else None
        column.__name__ = name
        return column

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return protect_form(form, request.user, self.phone_fields, self._reveal_url(obj))

    def _reveal_url(self, obj):
        if not self.phone_fields or obj is None or obj.pk is None:
            return None
        opts = self.model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_reveal_phone",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Outside the user's area (or gone): a plain 404, never a hint that the record exists.
        raise Http404("没有找到该记录")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The admin runs the whole save in one transaction: raising here rolls it back.
        if not in_scope(request.user, form.instance):
            raise PermissionDenied(OUT_OF_SCOPE_MESSAGE)

    def delete_queryset(self, request, queryset):
        # The admin's "删除所选" action: a bulk change, so it goes into the access log.
        rows = queryset.count()
        super().delete_queryset(request, queryset)
        record_access(
            request.user,
            AccessLog.Kind.BULK_CHANGE,
            str(self.model._meta.verbose_name),
            rows=rows,
            detail="批量删除",
            request=request,
        )

    def get_urls(self):
        urls = super().get_urls()
        if not self.phone_fields:
            return urls
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/reveal-phone/",
                self.admin_site.admin_view(self.reveal_phone_view),
                name=f"{opts.app_label}_{opts.model_name}_reveal_phone",
            ),
            *urls,
        ]

    def reveal_phone_view(self, request, object_id):
        """查看完整号码: a confirmation page, then (on POST) the full numbers and one access-log line."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("没有找到该记录")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": "查看完整号码",
            "opts": opts,
            "original": obj,
            "change_url": reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[quote(obj.pk)],
                current_app=self.admin_site.name,
            ),
            "masked": [(opts.get_field(n).verbose_name, mask_phone(getattr(obj, n))) for n in self.phone_fields],
        }
        if request.method == "POST":
            check_reveal_quota(request.user)
            context["numbers"] = [(opts.get_field(n).verbose_name, getattr(obj, n)) for n in self.phone_fields]
            record_access(
                request.user,
                AccessLog.Kind.REVEAL,
                f"{opts.verbose_name}：{obj}"[:100],
                rows=1,
                detail=f"{opts.label} #{obj.pk}",
                request=request,
            )
        return TemplateResponse(request, "admin/outreach/reveal_phone.html", context)


def _escaped(value) -> str:
    # conditional_escape without its lazy-string wrapper: the same text, for every cell of a page.
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


class _Column:
    """What Django's ``items_for_result`` works out again for every cell, worked out once per column."""

    def __init__(self, cl, index, name, link, empty):
        self.name, self.link = name, link
        self.field = self.attr = None
        try:
            self.field = _get_non_gfk_field(cl.lookup_opts, name)
        except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
            if callable(name):
                self.attr = name
            elif hasattr(cl.model_admin, name) and name != "__str__":
                self.attr = getattr(cl.model_admin, name)
        # Model attributes and properties (resolved per object by lookup_field) go the long way round.
        self.per_object = self.field is None and self.attr is None
        self.empty = getattr(self.attr, "empty_value_display", empty)
        self.default_empty = empty
        plain = f"field-{_coerce_field_name(name, index)}"
        shown_as_value = self.field is None or self.field.auto_created
        base = "action-checkbox" if name == "action_checkbox" and shown_as_value else plain
        nowrap = not shown_as_value and isinstance(self.field, models.DateField | models.TimeField | models.ForeignKey)
        self.css = mark_safe(f' class="{base}{" nowrap" if nowrap else ""}"')
        self.css_dated = mark_safe(f' class="{base} nowrap"')
        self.css_missing = mark_safe(f' class="{plain}"')
        self.is_relation = self.field is not None and isinstance(self.field.remote_field, models.ManyToOneRel)
        self.boolean = getattr(self.attr, "boolean", False)

    def cell(self, obj):
        """(the cell's class attribute, its content) as ``items_for_result`` gives them."""
        try:
            if self.per_object:
                field, attr, value = lookup_field(self.name, obj, None)
                empty = getattr(attr, "empty_value_display", self.default_empty)
                boolean = getattr(attr, "boolean", False)
                if isinstance(attr, property) and hasattr(attr, "fget"):
                    boolean = getattr(attr.fget, "boolean", False)
            elif self.field is not None:
                field, value, empty, boolean = self.field, getattr(obj, self.name), self.empty, False
            else:
                field, value, empty, boolean = None, self.attr(obj), self.empty, self.boolean
        except ObjectDoesNotExist:
            return self.css_missing, self.default_empty
        if isinstance(value, str) and value.strip() == "":
            value = ""
        if field is None or field.auto_created:
            dated = isinstance(value, datetime.date | datetime.time)
            return (self.css_dated if dated else self.css), display_for_value(value, empty, boolean)
        if self.is_relation:
            related = getattr(obj, field.name)
            return self.css, (empty if related is None else related)
        return self.css, display_for_field(value, field, empty, avoid_link=self.link)


class FastChangeList(ChangeList):
    """Django's change list, with each row's link made from one ``reverse()`` per page rather than one per row,
    and its rows written by ``result_rows``."""

    _PK_TOKEN = "OUTREACHPK"

    def result_rows(self):
        """The rows of ``admin/change_list_results.html``, each one string of cells: the HTML Django's
        ``items_for_result`` writes, with what it works out per cell (which column is the link, how a value is
        looked up and shown, the filters the link keeps) worked out once per page. ``None`` where Django's own
        rows are needed (editable lists, pop-ups)."""
        if self.formset or self.is_popup:
            return None
        empty = self.model_admin.get_empty_value_display()
        columns, first = [], True
        for index, name in enumerate(self.list_display):
            if self.list_display_links is None:
                link = False
            else:
                link = (first and not self.list_display_links) or name in self.list_display_links
            columns.append((_Column(self, index, name, link, empty), "th" if link and first else "td"))
            first = first and not link
        link_template = None
        rows = []
        for obj in self.result_list:
            cells = []
            for column, tag in columns:
                css, shown = column.cell(obj)
                content = _escaped(shown)
                if column.link:
                    if link_template is None:
                        link_template = self._link_template()
                    if link_template:
                        content = f'<a href="{html.escape(self._link(link_template, obj))}">{content}</a>'
                cells.append(f"<{tag}{css}>{content}</{tag}>")
            rows.append(ResultList(None, [mark_safe("".join(cells))]))
        return rows

    def _link_template(self):
        # The change URL with the filters the list keeps (add_preserved_filters), a token where the id goes.
        try:
            url = self._change_url_template_()
        except NoReverseMatch:
            return ""
        return add_preserved_filters({"preserved_filters": self.preserved_filters, "opts": self.opts}, url)

    def _link(self, template, obj):
        value = urlquote(str(quote(getattr(obj, self.pk_attname))), safe=RFC3986_SUBDELIMS + "/~:@")
        return template.replace(self._PK_TOKEN, value, 1)

    def _change_url_template_(self):
        template = getattr(self, "_change_url_template", None)
        if template is None:
            opts = self.opts
            template = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=(self._PK_TOKEN,),
                current_app=self.model_admin.admin_site.name,
            )
            self._change_url_template = template
        return template

    def url_for_result(self, result):
        # As reverse() would write the id into the path: the admin's quoting, then the URL's.
        return self._link(self._change_url_template_(), result)


class OutreachModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Scoped and masked, and fast at a million rows: no full COUNT(*) per page (the list's own count is exact
    up to 10,000 rows, PostgreSQL's estimate beyond, shown as 约), no facet counts, a page size a county clerk
    can scan, and the row checkbox written directly rather than through a form widget's template."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 500
    paginator = EstimatedCountPaginator

    def get_changelist(self, request, **kwargs):
        return FastChangeList

    def action_checkbox(self, obj):
        # The same markup as Django's (CheckboxInput rendered through three templates, a third of a
        # 50-row page's time), built in one format_html.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(gettext("Select this object for an action - {}"), str(obj)),
        )


def extend_admin(model, *mixins, inlines=(), actions=(), **attrs):
    """Register ``model``'s admin again as a subclass of the one registered so far, ``mixins`` first.

    How an app adds to the admin of an app below it (an inline, an action, import/export buttons) without
    the lower app importing it: admin modules load in INSTALLED_APPS order, lower apps first, and each
    extension builds on the admin registered before it. ``inlines`` and ``actions`` are added to the
    base's own; other ``attrs`` are set on the new class.
    """
    base = type(admin.site.get_model_admin(model))
    attrs = {"__module__": (mixins[0] if mixins else base).__module__, **attrs}
    if inlines:
        attrs["inlines"] = [*base.inlines, *inlines]
    if actions:
        attrs["actions"] = [*(base.actions or ()), *actions]
    admin_class = type(base.__name__, (*mixins, base), attrs)
    admin.site.unregister(model)
    admin.site.register(model, admin_class)
    return admin_class


class _MaskingHistoryHelper(HistoricalRecordContextHelper):
    def __init__(self, model, record, *, user, phone_fields):
        super().__init__(model, record)
        self.user = user
        self.phone_fields = phone_fields

    def prepare_delta_change_value(self, change, value):
        if change.field in self.phone_fields:
            return display_phone(self.user, value or "")
        return super().prepare_delta_change_value(change, value)


class OutreachHistoryAdmin(OutreachModelAdmin, SimpleHistoryAdmin):
    """An admin with the change history (django-simple-history), read-only and scoped like the rest."""

    def _require_in_scope(self, request, object_id):
        # The city may read the history of a deleted record; everyone else only of records in their area.
        if area_of(request.user).everything:
            return
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("没有找到该记录")

    def history_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_in_scope(request, object_id)
        if request.method == "POST":
            # Reverting would write around the services; history is for reading.
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        return _MaskingHistoryHelper(
            self.model, historical_record, user=request.user, phone_fields=set(self.phone_fields)
        )


class ScopedInlineMixin(MaskedReadOnlyMixin):
    """For inlines: rows and choices inside the user's area, phones masked."""

    phone_fields: tuple = ()

    def get_queryset(self, request):
        return scope_queryset(request.user, super().get_queryset(request))

    def get_field_queryset(self, db, db_field, request):
        return _scoped_field_queryset(db, db_field, request, super().get_field_queryset(db, db_field, request))

    def _read_only(self, request, obj):
        # Inline rows are read-only when the parent page is, whatever the inline's own permission.
        parent_admin = self.admin_site._registry.get(self.parent_model)
        parent_editable = parent_admin is None or parent_admin.has_change_permission(request, obj)
        return not parent_editable or not self.has_change_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # Inline rows belong to the parent, whose own form and save are scope-checked.
        formset.form = protect_form(formset.form, request.user, self.phone_fields, check_scope=False)
        return formset


class OutreachTabularInline(ScopedInlineMixin, admin.TabularInline):
    pass


class CountyFilter(admin.SimpleListFilter):
    """县（市、区） from the places table (13 rows, only those in the user's area), not a DISTINCT over the list."""

    title = "县（市、区）"
    parameter_name = "county"
    field_path = "county_id"

    def lookups(self, request, model_admin):
        counties = scope_queryset(request.user, County.objects.order_by("code"))
        return [(str(pk), name) for pk, name in counties.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


class TownFilter(admin.SimpleListFilter):
    """乡镇（街道） in the user's area, narrowed to the chosen county when one is chosen."""

    title = "乡镇（街道）"
    parameter_name = "town"
    field_path = "town_id"
    county_parameter = "county"

    def lookups(self, request, model_admin):
        towns = scope_queryset(request.user, Town.objects.order_by("code"))
        county = request.GET.get(self.county_parameter)
        if county and county.isdigit():
            towns = towns.filter(county_id=county)
        elif area_of(request.user).everything:
            # The whole city's 150-odd towns in one list help nobody and cost a link each on every page:
            # the city chooses a county first (or sees the county of the town it chose).
            town = self.value()
            if not (town and town.isdigit()):
                return []
            towns = towns.filter(county__towns=town)
        return [(str(pk), name) for pk, name in towns.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


class WorkbookXLSX(base_formats.XLSX):
    """xlsx written by the project's one writer: formula-like text quote-prefixed, never evaluated."""

    def export_data(self, dataset, **kwargs):
        headers = [str(h) for h in dataset.headers or []]
        buffer = io.BytesIO()
        with xlsx.Workbook(buffer) as book:
            book.sheet("Sheet1", xlsx.columns(*headers), header=bool(headers)).write_rows(dataset)
        return buffer.getvalue()


class _ApostropheMixin:
    """Text formats have no cell styles: formula-like text gets a leading apostrophe (OWASP)."""

    def export_data(self, dataset, **kwargs):
        safe = tablib.Dataset(headers=[safe_cell(h) for h in dataset.headers] if dataset.headers else None)
        for row in dataset:
            safe.append([safe_cell(value) for value in row])
        return super().export_data(safe, **kwargs)


class SafeCSV(_ApostropheMixin, base_formats.CSV):
    pass


class SafeTSV(_ApostropheMixin, base_formats.TSV):
    pass


# The library's formats that would let a formula through, and what the project's admins offer instead.
EXPORT_FORMATS = {base_formats.XLSX: WorkbookXLSX, base_formats.CSV: SafeCSV, base_formats.TSV: SafeTSV}


class ProtectedImportExportMixin:
    """For admins using django-import-export: the importer's user reaches the resource, exports are masked,
    formula-safe and logged, imports are logged.

    Put it before ``ImportExportMixin`` (or ``ImportMixin``/``ExportMixin``) in the bases. Permissions are
    the models' own ``import_*`` and ``export_*`` (settings IMPORT_EXPORT_*_PERMISSION_CODE).
    """

    #: Column headers of exported phone numbers (masked unless the role sees full numbers).
    export_phone_headers: tuple = PHONE_HEADERS
    #: What the access log calls the data, e.g. "住户"; defaults to the model's verbose name.
    access_log_subject = None

    def _access_subject(self):
        return self.access_log_subject or str(self.model._meta.verbose_name)

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**super().get_resource_kwargs(request, *args, **kwargs), "user": request.user}

    def get_export_formats(self):
        return [EXPORT_FORMATS.get(f, f) for f in super().get_export_formats()]

    def get_data_for_export(self, request, queryset, **kwargs):
        dataset = super().get_data_for_export(request, queryset, **kwargs)
        protect_dataset(request.user, dataset, self.export_phone_headers)
        record_access(request.user, AccessLog.Kind.EXPORT, self._access_subject(), rows=len(dataset), request=request)
        return dataset

    def process_result(self, result, request):
        totals = result.totals
        rows = sum(totals.get(key, 0) for key in ("new", "update", "delete"))
        record_access(
            request.user,
            AccessLog.Kind.IMPORT,
            self._access_subject(),
            rows=rows,
            filename=request.POST.get("original_file_name", ""),
            detail=f"新增{totals.get('new', 0)}，更新{totals.get('update', 0)}，删除{totals.get('delete', 0)}",
            request=request,
        )
        return super().process_result(result, request)
