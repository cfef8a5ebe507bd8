"""Imports and exports as verbs: the one code path behind the admin, the background jobs and the commands.

``import_file`` checks the whole file first; when any row is wrong nothing is written and every error is
returned with its sheet, Excel row and column. Otherwise all writes of the file happen in one transaction,
the access log records who imported what, and the dashboards hear about it on commit.
"""

import datetime as dt
import gc
import logging
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outreach.accounts.models import AccessLog
from outreach.accounts.services import record_access
from outreach.campaigns.rules import CampaignRefused
from outreach.dataio import permissions
from outreach.dataio.columns import KINDS
from outreach.dataio.importers import IMPORTERS, pick_campaign
from outreach.dataio.permissions import scoped
from outreach.dataio.readers import UploadRefused, check_upload, read_sheets
from outreach.dataio.results import ImportResult
from outreach.lib.names import clean_name
from outreach.lib.signals import field_data_changed, registration_data_changed
from outreach.places.models import County

logger = logging.getLogger(__name__)


def find_county(user, value) -> County:
    """A county by code or name (short names such as "新绛" too), inside ``user``'s scope."""
    if isinstance(value, County):
        value = value.code
    counties = scoped(user, County.objects.all())
    value = clean_name(str(value))
    county = counties.filter(code=value).first() or counties.filter(name=value).first()
    if county is None:
        matches = [c for c in counties if c.name.startswith(value)]
        county = matches[0] if len(matches) == 1 else None
    if county is None:
        raise UploadRefused(f"没有“{value}”这个县（市、区），或不在您的管辖范围内")
    return county


def named_county(sheets) -> County | None:
    """The county the sheets' titles, 填报单位 lines or sheet names name first (any county of the city)."""
    texts = " ".join(" ".join([s.title, *s.meta, s.name]) for s in sheets)
    found = [(texts.find(c.name), c) for c in County.objects.all() if c.name in texts]
    return min(found, key=lambda hit: hit[0])[1] if found else None


def _county_from(user, named: County | None) -> County | None:
    """The county a file goes into when none was chosen: the one its title names if the user may import there,
    else the user's own."""
    if named is not None and scoped(user, County.objects.filter(pk=named.pk)).exists():
        return named
    if user is not None and getattr(user, "county_id", None):
        return user.county
    return None


def import_file(
    kind: str,
    path: Path,
    file_name: str | None = None,
    *,
    user=None,
    county=None,
    as_of: dt.date | None = None,
    campaign=None,
    dry_run: bool = False,
    progress=None,
    request=None,
    stored: bool = False,
) -> ImportResult:
    """Check ``path`` as a sheet of ``kind``; unless ``dry_run`` or refused, write it in one transaction.

    ``stored`` says the file came through ``store_upload``, which has checked it (type, size, zip bomb)
    already: a job's file is then read once for its preview and once for its write, and checked only once.
    """
    if kind not in IMPORTERS:
        raise UploadRefused(f"不认识的导入类型“{kind}”，可选：{'、'.join(KINDS)}")
    permissions.require(user, "import", kind, KINDS[kind]["label"])
    path = Path(path)
    file_name = file_name or path.name
    result = ImportResult(kind=kind, file_name=file_name, dry_run=dry_run)
    if not stored:
        check_upload(path, file_name)
    if progress:
        progress("读取文件", 0, 1)
    sheets = read_sheets(path, file_name, kind)
    named = named_county(sheets)
    county_obj = find_county(user, county) if county else _county_from(user, named)
    if county_obj is None and kind != "registrations":
        raise UploadRefused("无法确定县（市、区）：请指定县（市、区），或在标题中写明")
    result.county = county_obj.name if county_obj else ""
    campaign_obj = None
    if kind == "responsibility":
        campaign_obj = campaign if not isinstance(campaign, str | type(None)) else None
        if campaign_obj is None:
            try:
                campaign_obj = pick_campaign(
                    sheets[0].title, county_obj, campaign if isinstance(campaign, str) else None
                )
            except CampaignRefused as exc:
                raise UploadRefused(str(exc)) from exc
    importer = IMPORTERS[kind](user, county_obj, campaign=campaign_obj, as_of=as_of, result=result)
    importer.source = file_name
    total = sum(s.size for s in sheets) or 1
    done = _check_rows(importer, sheets, total, progress)
    counted = result.new + result.updated + result.unchanged
    result.rows = max(done if kind != "registrations" else counted, counted)
    lead = None
    if county_obj is not None and kind != "registrations":
        allowed = list(scoped(user, County.objects.order_by("code")).values_list("name", flat=True))
        lead = importer.origin_error(named if named not in (None, county_obj) else None, allowed)
    error_count = len(result.errors) + (lead is not None)
    result.finish_errors(lead)
    if not dry_run and result.ok:
        if progress:
            progress("写入数据库", 95, 100)
        with transaction.atomic():
            importer.write()
            result.written = True
            village_ids, county_ids, dates = set(result.village_ids), set(result.county_ids), set(result.dates)
            org_ids = set(result.organization_ids)
            if village_ids or org_ids:
                transaction.on_commit(
                    lambda: field_data_changed.send(
                        sender=IMPORTERS[kind], village_ids=village_ids, organization_ids=org_ids
                    )
                )
            if county_ids:
                transaction.on_commit(
                    lambda: registration_data_changed.send(sender=IMPORTERS[kind], county_ids=county_ids, dates=dates)
                )
    if dry_run:
        return result
    detail = (
        f"新增{result.new} 更新{result.updated} 未变{result.unchanged}"
        if result.written
        else f"有{error_count}处错误，未写入"
    )
    record_access(
        user,
        AccessLog.Kind.IMPORT,
        KINDS[kind]["label"],
        rows=result.rows,
        filename=file_name,
        detail=f"{result.county} {detail}".strip(),
        request=request,
    )
    return result


def _check_rows(importer, sheets, total: int, progress) -> int:
    """Every row of ``sheets`` through ``importer``, then what needs them all; returns the rows read.

    The check keeps one small record per good row (100,000 of a county's file) and makes no reference cycles,
    yet each few hundred new records would start the cyclic garbage collector, whose full passes walk all of
    them again (some 8% of the check). It waits until the check is done; reference counting frees as usual.
    """
    done = 0
    paused = gc.isenabled()
    gc.disable()
    try:
        for sheet in sheets:
            importer.use_sheet(sheet)
            for row_no, values in sheet.rows:
                done += 1
                importer.check_row(row_no, values)
                if progress and done % 5000 == 0:
                    progress("检查数据", min(done, total), total)
        if progress:
            progress("检查数据", total, total)
        importer.finish_check()
    finally:
        if paused:
            gc.enable()
    return done


# -- uploaded files -----------------------------------------------------------------------------------------
def upload_dir() -> Path:
    path = Path(settings.DATAIO_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_dir() -> Path:
    path = Path(settings.DATAIO_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(uploaded) -> Path:
    """Copy an uploaded file into the private upload folder under a random name; checks it before returning."""
    name = getattr(uploaded, "name", "upload")
    suffix = Path(name).suffix.lower()
    target = upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    limit = settings.DATAIO_MAX_UPLOAD_MB * 1024 * 1024
    if getattr(uploaded, "size", 0) and uploaded.size > limit:
        raise UploadRefused(
            f"文件太大（{uploaded.size / 1024 / 1024:.1f} MB），最大 {settings.DATAIO_MAX_UPLOAD_MB} MB"
        )
    with open(target, "wb") as out:
        if hasattr(uploaded, "chunks"):
            for chunk in uploaded.chunks():
                out.write(chunk)
        else:
            shutil.copyfileobj(uploaded, out)
    try:
        check_upload(target, name)
    except UploadRefused:
        target.unlink(missing_ok=True)
        raise
    return target


def discard_file(path) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def cleanup_jobs() -> dict:
    """Mark jobs left running by a killed worker as failed; delete files of abandoned previews and old exports."""
    from outreach.dataio.models import ExportJob, ImportJob

    now = timezone.now()
    stale_before = now - dt.timedelta(minutes=settings.DATAIO_STALE_MINUTES)
    abandoned_before = now - dt.timedelta(hours=settings.DATAIO_ABANDONED_HOURS)
    stale = 0
    for model in (ImportJob, ExportJob):
        running = model.objects.filter(status=model.Status.RUNNING, heartbeat__lt=stale_before)
        stale += running.update(
            status=model.Status.FAILED,
            phase="",
            message="后台任务中断（服务重启或进程被终止），没有写入任何数据，可重新运行",
            finished_at=now,
        )
    abandoned = 0
    left = ImportJob.objects.filter(
        status__in=[ImportJob.Status.PREVIEW, ImportJob.Status.FAILED], created_at__lt=abandoned_before
    ).exclude(stored_path="")
    for job in left:
        discard_file(job.stored_path)
        job.status = ImportJob.Status.CANCELLED
        job.stored_path = ""
        job.message = "超过时限未确认或未重新运行，上传的文件已删除"
        job.save(update_fields=["status", "stored_path", "message"])
        abandoned += 1
    for job in ExportJob.objects.filter(status=ExportJob.Status.DONE, finished_at__lt=abandoned_before).exclude(
        stored_path=""
    ):
        discard_file(job.stored_path)
        job.stored_path = ""
        job.save(update_fields=["stored_path"])
    return {"stale": stale, "abandoned": abandoned}
