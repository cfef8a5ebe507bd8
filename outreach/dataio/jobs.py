"""Background import and export jobs: the task bodies, progress and the start/confirm/cancel verbs.

Progress is written with autocommitted UPDATEs while the file is read and checked; all writes of an import
happen afterwards in one transaction, so a worker killed half-way leaves nothing behind and the job can be
run again (``cleanup_jobs`` marks it failed once its heartbeat is stale).
"""

import datetime as dt
import logging
import uuid
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from outreach.campaigns.models import Campaign
from outreach.dataio.exporters import EXPORT_KINDS, export_file
from outreach.dataio.models import ExportJob, ImportJob
from outreach.dataio.readers import UploadRefused
from outreach.dataio.results import PREVIEW_VALUE_CHARS
from outreach.dataio.services import cleanup_jobs, discard_file, export_dir, import_file
from outreach.places.models import Town

logger = logging.getLogger(__name__)
__all__ = ["PREVIEW_VALUE_CHARS", "cancel_import", "confirm_import", "rerun_job", "run_import", "start_import"]


def _progress_updater(model, pk):
    def update(phase, done, total):
        percent = int(done * 100 / total) if total else 0
        model.objects.filter(pk=pk).update(phase=phase, progress=min(percent, 99), heartbeat=timezone.now())

    return update


def enqueue_import(job: ImportJob) -> None:
    from outreach.dataio.tasks import run_import_job

    transaction.on_commit(lambda: run_import_job.enqueue(job.pk))


def enqueue_export(job: ExportJob) -> None:
    from outreach.dataio.tasks import run_export_job

    transaction.on_commit(lambda: run_export_job.enqueue(job.pk))


def start_import(user, kind, stored_path, file_name, county=None, options=None) -> ImportJob:
    """A job that first checks the file (preview); ``confirm_import`` then writes it.

    ``stored_path`` is a file ``services.store_upload`` has stored and checked: the job reads it for the
    preview and once more for the write, without checking it again.
    """
    job = ImportJob.objects.create(
        kind=kind,
        user=user,
        county=county,
        file_name=file_name[:255],
        stored_path=str(stored_path),
        options=options or {},
    )
    enqueue_import(job)
    return job


def confirm_import(job: ImportJob) -> None:
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
        confirmed=True, status=ImportJob.Status.QUEUED, progress=0, phase=""
    )
    if updated:
        job.refresh_from_db()
        enqueue_import(job)


def rerun_job(job) -> None:
    """Queue a failed job again (its file is kept until it succeeds, is cancelled or is abandoned)."""
    model = type(job)
    if job.status != model.Status.FAILED:
        return
    if isinstance(job, ImportJob) and not (job.stored_path and Path(job.stored_path).exists()):
        return
    model.objects.filter(pk=job.pk).update(status=model.Status.QUEUED, progress=0, phase="", message="")
    job.refresh_from_db()
    (enqueue_import if isinstance(job, ImportJob) else enqueue_export)(job)


def cancel_import(job: ImportJob) -> None:
    """Cancel a job that has written nothing: its file and the rows it previewed are deleted."""
    if job.status in (ImportJob.Status.PREVIEW, ImportJob.Status.FAILED, ImportJob.Status.QUEUED):
        discard_file(job.stored_path)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.CANCELLED,
            stored_path="",
            preview={},
            errors=[],
            finished_at=timezone.now(),
            message="已取消，文件和预览已删除",
        )


def run_import(job_id: int) -> None:
    """The task body: check (and, once confirmed, write) the job's file."""
    cleanup_jobs()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, heartbeat=timezone.now(), phase="开始", progress=0
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("user", "county").get(pk=job_id)
    options = job.options or {}
    as_of = dt.date.fromisoformat(options["as_of"]) if options.get("as_of") else None
    try:
        report = import_file(
            job.kind,
            Path(job.stored_path),
            job.file_name,
            user=job.user,
            county=job.county or None,
            as_of=as_of,
            campaign=options.get("campaign") or None,
            dry_run=not job.confirmed,
            progress=_progress_updater(ImportJob, job.pk),
            stored=True,
        )
    except UploadRefused as exc:
        discard_file(job.stored_path)
        _finish(job, ImportJob.Status.REFUSED, message=str(exc), stored_path="")
        return
    except Exception as exc:  # noqa: BLE001 - any failure ends the job visibly; the transaction rolled back
        logger.exception("import job %s failed", job_id)
        _finish(job, ImportJob.Status.FAILED, message=f"导入失败，没有写入任何数据：{exc}")
        return
    fields = report.job_fields()
    if report.errors:
        discard_file(job.stored_path)
        more = f"（另有{report.more_errors}处未列出）" if report.more_errors else ""
        fields["message"] = f"有{len(report.errors)}处错误{more}，没有写入任何数据"
        fields["preview"] = {}
        _finish(job, ImportJob.Status.REFUSED, stored_path="", **fields)
    elif report.dry_run:
        _finish(job, ImportJob.Status.PREVIEW, finished=False, **fields)
    else:
        discard_file(job.stored_path)
        _finish(job, ImportJob.Status.DONE, stored_path="", **fields)


def _finish(job, status, finished=True, **fields):
    fields.update(status=status, progress=100, phase="", heartbeat=timezone.now())
    if finished:
        fields["finished_at"] = timezone.now()
    type(job).objects.filter(pk=job.pk).update(**fields)


def start_export(user, kind, county=None, filters=None) -> ExportJob:
    job = ExportJob.objects.create(kind=kind, user=user, county=county, filters=filters or {})
    enqueue_export(job)
    return job


def run_export(job_id: int) -> None:
    cleanup_jobs()
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, heartbeat=timezone.now(), phase="导出中"
    )
    if not claimed:
        return
    job = ExportJob.objects.select_related("user", "county").get(pk=job_id)
    filters = job.filters or {}
    town = Town.objects.filter(pk=filters["town"]).first() if filters.get("town") else None
    campaign = Campaign.objects.filter(pk=filters["campaign"]).first() if filters.get("campaign") else None
    stamp = timezone.localtime().strftime("%Y%m%d_%H%M")
    area = job.county.name if job.county else ""
    file_name = f"{area}{EXPORT_KINDS[job.kind]}_{stamp}.xlsx"
    path = export_dir() / f"{uuid.uuid4().hex}.xlsx"

    def progress(rows):
        ExportJob.objects.filter(pk=job.pk).update(rows=rows, heartbeat=timezone.now())

    try:
        rows = export_file(
            job.kind, path, user=job.user, county=job.county, town=town, campaign=campaign, progress=progress
        )
    except Exception as exc:  # noqa: BLE001 - the job shows the failure; the partial file is removed
        logger.exception("export job %s failed", job_id)
        discard_file(path)
        _finish(job, ExportJob.Status.FAILED, message=f"导出失败：{exc}")
        return
    _finish(job, ExportJob.Status.DONE, rows=rows, stored_path=str(path), file_name=file_name)
