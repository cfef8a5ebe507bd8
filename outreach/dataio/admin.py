"""导入/导出 in the admin, added to the domain apps' admins without editing them.

Each domain ModelAdmin is registered again as a subclass carrying django-import-export's mixins (its
导入/导出 buttons and the ``import``/``export`` permission codes of the settings), through ``extend_admin``.
The App bulletin figures' admin is registered here whole: registrations depends on places only, so it
cannot import the scoped admin base, and its figures come in by import. The buttons
lead to the project's own pages: upload → background check → preview (new/updated/unchanged, first rows)
→ confirm → background write in one transaction; exports run in the background and are downloaded from
their job page. Jobs are the user's own; another user's job answers 404.
"""

import io
from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from import_export.admin import ExportMixin, ImportExportMixin

from outreach.accounts.admin_base import CountyFilter, OutreachModelAdmin, ReadOnlyAdminMixin, extend_admin
from outreach.campaigns.models import Assignment
from outreach.dataio import jobs
from outreach.dataio.columns import KINDS
from outreach.dataio.exporters import EXPORT_KINDS, write_template
from outreach.dataio.forms import UploadForm
from outreach.dataio.models import ExportJob, ImportJob
from outreach.dataio.readers import UploadRefused
from outreach.dataio.resources import RESOURCES
from outreach.dataio.services import cleanup_jobs, find_county, store_upload
from outreach.lib import xlsx
from outreach.people.models import Household, PartyMember
from outreach.places.models import County, Town
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import Visit


def _own_job_or_404(model, request, pk):
    qs = model.objects.all()
    if not request.user.is_superuser:
        qs = qs.filter(user=request.user)
    job = qs.filter(pk=pk).first()
    if job is None:
        raise Http404("没有找到该任务")
    return job


def _start_export(model_admin, request, kind):
    if not model_admin.has_export_permission(request):
        raise PermissionDenied
    county = None
    value = request.GET.get("county") or (request.user.county.code if getattr(request.user, "county", None) else "")
    if value:
        try:
            if value.isdigit() and len(value) < 12:
                value = County.objects.filter(pk=value).values_list("code", flat=True).first() or value
            county = find_county(request.user, value)
        except UploadRefused as exc:
            raise Http404(str(exc)) from exc
    filters = {}
    town = request.GET.get("town")
    if town and town.isdigit() and Town.objects.filter(pk=town).exists():
        filters["town"] = int(town)
    campaign = request.GET.get("campaign__id__exact")
    if campaign and campaign.isdigit():
        filters["campaign"] = int(campaign)
    job = jobs.start_export(request.user, kind, county=county, filters=filters)
    return redirect("admin:dataio_exportjob_progress", job.pk)


class DataioImportExportMixin(ImportExportMixin):
    """导入/导出 buttons leading to the background, previewed, scoped import and export."""

    dataio_kind = ""

    def get_resource_classes(self, request=None):
        return [RESOURCES[self.dataio_kind]]

    def import_action(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        kind = self.dataio_kind
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user, kind=kind)
        if request.method == "POST" and form.is_valid():
            uploaded = form.cleaned_data["file"]
            try:
                stored = store_upload(uploaded)
            except UploadRefused as exc:
                form.add_error("file", str(exc))
            else:
                options = {}
                if form.cleaned_data.get("campaign"):
                    options["campaign"] = form.cleaned_data["campaign"].name
                if form.cleaned_data.get("as_of"):
                    options["as_of"] = form.cleaned_data["as_of"].isoformat()
                job = jobs.start_import(
                    request.user, kind, stored, uploaded.name, county=form.cleaned_data.get("county"), options=options
                )
                return redirect("admin:dataio_importjob_progress", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"导入{KINDS[kind]['label']}",
            "opts": self.model._meta,
            "form": form,
            "kind": kind,
            "kind_label": KINDS[kind]["label"],
            "template_url": reverse("admin:dataio_importjob_template", args=[kind]),
        }
        return TemplateResponse(request, "dataio/import_upload.html", context)

    def process_import(self, request, **kwargs):
        # The library's own confirm step (its temp storage, row-by-row import) is replaced by our job pages.
        raise Http404

    def export_action(self, request):
        return _start_export(self, request, self.dataio_kind)


class DataioExportMixin(ExportMixin):
    dataio_kind = ""

    def export_action(self, request):
        return _start_export(self, request, self.dataio_kind)


HouseholdImportAdmin = extend_admin(Household, DataioImportExportMixin, dataio_kind="households")
PartyMemberImportAdmin = extend_admin(PartyMember, DataioImportExportMixin, dataio_kind="members")
AssignmentImportAdmin = extend_admin(Assignment, DataioImportExportMixin, dataio_kind="responsibility")
VisitExportAdmin = extend_admin(Visit, DataioExportMixin, dataio_kind="visits")


@admin.register(RegistrationReport)
class RegistrationReportAdmin(DataioImportExportMixin, OutreachModelAdmin):
    dataio_kind = "registrations"
    date_hierarchy = "as_of"
    list_display = ["as_of", "county", "town", "registered", "verified", "population", "source"]
    list_select_related = ["county", "town"]
    list_filter = [CountyFilter, "as_of"]
    search_fields = ["county__name", "town__name"]
    autocomplete_fields = ["county", "town"]


ERROR_COLUMNS = [
    xlsx.Column("工作表", kind="text", width=16),
    xlsx.Column("行号", kind="number"),
    xlsx.Column("列", kind="text", width=16),
    xlsx.Column("错误说明", kind="text", width=60),
]


def _error_text(error: dict) -> str:
    """The message; one said for many rows names them (行号 then holds the first)."""
    if error.get("count"):
        return f"{error.get('rows', '')}（共{error['count']}行）：{error.get('message', '')}"
    return error.get("message", "")


def errors_workbook(job: ImportJob) -> bytes:
    """The job's errors as an .xlsx a clerk can sort and fix from."""
    rows = (
        [error.get("sheet", ""), error.get("row") or None, error.get("column", ""), _error_text(error)]
        for error in job.errors
    )
    return xlsx.workbook_bytes(
        ERROR_COLUMNS, rows, title_rows=[f"{job.file_name} 导入错误（没有写入任何数据）"], sheet="错误"
    )


class _JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A user's own jobs; read-only lists whose rows open the progress page."""

    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user", "county")
        return qs if request.user.is_superuser else qs.filter(user=request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def changelist_view(self, request, extra_context=None):
        cleanup_jobs()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect(f"admin:dataio_{self.model._meta.model_name}_progress", object_id)


@admin.register(ImportJob)
class ImportJobAdmin(_JobAdmin):
    list_display = ["file_name", "kind_label", "status", "rows", "new", "updated", "unchanged", "user", "created_at"]
    list_filter = ["status"]

    @admin.display(description="类型")
    def kind_label(self, obj):
        return KINDS.get(obj.kind, {}).get("label", obj.kind)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="dataio_importjob_progress"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="dataio_importjob_confirm"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="dataio_importjob_cancel"),
            path("<int:pk>/rerun/", view(self.rerun_view), name="dataio_importjob_rerun"),
            path("<int:pk>/errors.xlsx", view(self.errors_view), name="dataio_importjob_errors"),
            path("template/<str:kind>/", view(self.template_view), name="dataio_importjob_template"),
            *super().get_urls(),
        ]

    def progress_view(self, request, pk):
        cleanup_jobs()
        job = _own_job_or_404(ImportJob, request, pk)
        preview = job.preview or {}
        rows = preview.get("rows", [])
        columns = []
        for row in rows:
            for key in row.get("values", {}):
                if key not in columns:
                    columns.append(key)
        table = [
            {
                "action": r["action"],
                "sheet": r["sheet"],
                "row": r["row"],
                "cells": [r["values"].get(c, "") for c in columns],
            }
            for r in rows
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"导入：{job.file_name}",
            "opts": self.model._meta,
            "job": job,
            "kind_label": KINDS.get(job.kind, {}).get("label", job.kind),
            "columns": columns,
            "table": table,
            "notes": preview.get("notes", []),
            "errors": job.errors[:200],
            "more_errors": max(len(job.errors) - 200, 0),
            "refresh": job.is_active,
        }
        return TemplateResponse(request, "dataio/import_job.html", context)

    @staticmethod
    def _post_only(request):
        if request.method != "POST":
            raise PermissionDenied

    def confirm_view(self, request, pk):
        self._post_only(request)
        job = _own_job_or_404(ImportJob, request, pk)
        jobs.confirm_import(job)
        job.refresh_from_db()
        # Finished already (in development the worker runs inside this request): say what was written. Otherwise
        # no flash: the job page states where the job is, and a "正在写入" message could outlive the job.
        if job.status == ImportJob.Status.DONE:
            messages.success(request, f"已导入：新增{job.new}，更新{job.updated}，未变{job.unchanged}。")
        return redirect("admin:dataio_importjob_progress", job.pk)

    def cancel_view(self, request, pk):
        self._post_only(request)
        job = _own_job_or_404(ImportJob, request, pk)
        jobs.cancel_import(job)
        messages.info(request, "已取消导入，上传的文件已删除。")
        return redirect("admin:dataio_importjob_progress", job.pk)

    def rerun_view(self, request, pk):
        self._post_only(request)
        job = _own_job_or_404(ImportJob, request, pk)
        jobs.rerun_job(job)
        return redirect("admin:dataio_importjob_progress", job.pk)

    def errors_view(self, request, pk):
        job = _own_job_or_404(ImportJob, request, pk)
        return xlsx.response(errors_workbook(job), Path(job.file_name).stem + "_错误.xlsx")

    def template_view(self, request, kind):
        if kind not in KINDS:
            raise Http404
        buffer = io.BytesIO()
        write_template(kind, buffer)
        return xlsx.response(buffer.getvalue(), KINDS[kind]["label"] + "_模板.xlsx")


@admin.register(ExportJob)
class ExportJobAdmin(_JobAdmin):
    list_display = ["kind_label", "county", "status", "rows", "user", "created_at"]
    list_filter = ["status"]

    @admin.display(description="类型")
    def kind_label(self, obj):
        return EXPORT_KINDS.get(obj.kind, obj.kind)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="dataio_exportjob_progress"),
            path("<int:pk>/download/", view(self.download_view), name="dataio_exportjob_download"),
            path("<int:pk>/rerun/", view(require_POST(self.rerun_view)), name="dataio_exportjob_rerun"),
            *super().get_urls(),
        ]

    def progress_view(self, request, pk):
        cleanup_jobs()
        job = _own_job_or_404(ExportJob, request, pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"导出：{EXPORT_KINDS.get(job.kind, job.kind)}",
            "opts": self.model._meta,
            "job": job,
            "kind_label": EXPORT_KINDS.get(job.kind, job.kind),
            "refresh": job.is_active,
        }
        return TemplateResponse(request, "dataio/export_job.html", context)

    def download_view(self, request, pk):
        job = _own_job_or_404(ExportJob, request, pk)
        if job.status != ExportJob.Status.DONE or not job.stored_path or not Path(job.stored_path).exists():
            raise Http404("文件已过期或尚未生成")
        return FileResponse(open(job.stored_path, "rb"), as_attachment=True, filename=job.file_name)  # noqa: SIM115

    def rerun_view(self, request, pk):
        job = _own_job_or_404(ExportJob, request, pk)
        jobs.rerun_job(job)
        return HttpResponseRedirect(reverse("admin:dataio_exportjob_progress", args=[job.pk]))
