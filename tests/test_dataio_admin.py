"""导入/导出 in the admin: upload → background check → preview → confirm; jobs, errors sheet, permissions."""

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from outreach.dataio import jobs
from outreach.dataio.models import ExportJob, ImportJob
from outreach.dataio.resources import ResponsibilityResource
from outreach.dataio.services import cleanup_jobs
from outreach.people.models import Household
from tests import factories
from tests.dataio_files import responsibility_book
from tests.test_dataio_import import longxing_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Uploads and jobs in a temporary DATAIO_DIR, jobs run inline (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("dataio_settings")


@pytest.fixture
def campaign(db):
    # Running today: a sheet whose title names no campaign goes into the one running campaign of its county.
    return factories.make_running_campaign()


def upload(client, data, name="分工表.xlsx", url_name="admin:campaigns_assignment_import", **fields):
    return client.post(reverse(url_name), {"file": SimpleUploadedFile(name, data), **fields})


def test_it_previews_then_writes_after_confirmation_and_deletes_the_file(
    client, superuser, places, campaign, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    page = client.get(reverse("admin:campaigns_assignment_import"))
    assert page.status_code == 200 and "下载空白模板" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, responsibility_book({"龙兴镇": longxing_rows()}))
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:dataio_importjob_progress", args=[job.pk])
    assert job.status == ImportJob.Status.PREVIEW
    assert (job.rows, job.new, job.updated, job.unchanged) == (5, 5, 0, 0)
    assert not Household.objects.exists()  # nothing written before confirming
    assert Path(job.stored_path).exists()
    page = client.get(response.url).content.decode()
    assert "确认导入" in page and "李秀英" in page and "新增" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:dataio_importjob_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Household.objects.count() == 5
    # The job finished inside the request: the page says it is written, not that it is still being written.
    page = client.get(reverse("admin:dataio_importjob_progress", args=[job.pk])).content.decode()
    assert "已写入" in page and "正在后台写入" not in page
    assert not job.stored_path  # uploaded file deleted after the import finished


def test_it_shows_errors_and_offers_them_as_a_sheet(
    client, superuser, places, campaign, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    rows = longxing_rows()
    rows[0][2] = "不存在村"
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, responsibility_book({"龙兴镇": rows}))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    page = client.get(reverse("admin:dataio_importjob_progress", args=[job.pk])).content.decode()
    assert "新绛县龙兴镇下没有“不存在村”" in page
    response = client.get(reverse("admin:dataio_importjob_errors", args=[job.pk]))
    assert response["Content-Type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[3]] == ["龙兴镇", 4, "村（社区）", "新绛县龙兴镇下没有“不存在村”"]
    assert not list((Path(job.stored_path or "/nonexistent")).parent.glob("*.xlsx")) or not job.stored_path


def test_it_refuses_a_zip_bomb_at_upload_with_a_chinese_message(client, superuser, places, settings):
    import zipfile

    settings.DATAIO_MAX_UNCOMPRESSED_MB = 1
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (2 * 1024 * 1024))
    client.force_login(superuser)
    response = upload(client, bomb.getvalue(), url_name="admin:people_household_import")
    assert "压缩炸弹" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not list((settings.DATAIO_DIR / "uploads").glob("*"))


def test_it_cancels_a_preview_and_deletes_its_file(
    client, superuser, places, campaign, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, responsibility_book({"龙兴镇": longxing_rows()}))
    job = ImportJob.objects.get()
    stored = Path(job.stored_path)
    client.post(reverse("admin:dataio_importjob_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED and not stored.exists()


def test_it_forbids_import_and_export_without_the_permissions(client, users):
    client.force_login(users.member)
    assert client.get(reverse("admin:people_household_import")).status_code == 403
    assert client.get(reverse("admin:people_household_export")).status_code == 403


def test_it_hides_another_users_job(client, users, superuser):
    job = ImportJob.objects.create(kind="households", user=superuser, file_name="x.xlsx")
    client.force_login(users.county)
    assert client.get(reverse("admin:dataio_importjob_progress", args=[job.pk])).status_code == 404
    assert client.get(reverse("admin:dataio_importjob_errors", args=[job.pk])).status_code == 404


def test_it_exports_in_the_background_and_downloads_from_the_job_page(
    client, superuser, places, campaign, django_capture_on_commit_callbacks
):
    factories.make_household(places.zhouzhuang, head_name="李秀英")
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("admin:people_household_export") + f"?county={places.xinjiang.pk}")
    job = ExportJob.objects.get()
    assert response.url == reverse("admin:dataio_exportjob_progress", args=[job.pk])
    assert job.status == ExportJob.Status.DONE and job.rows == 1
    assert "下载" in client.get(response.url).content.decode()
    download = client.get(reverse("admin:dataio_exportjob_download", args=[job.pk]))
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert book.active.cell(row=3, column=5).value == "李秀英"


def test_it_marks_a_job_left_running_by_a_killed_worker_failed_and_runs_it_again(
    tmp_path, places, campaign, superuser, settings, django_capture_on_commit_callbacks
):
    stored = tmp_path / "upload.xlsx"
    stored.write_bytes(responsibility_book({"龙兴镇": longxing_rows()}))
    job = ImportJob.objects.create(
        kind="responsibility",
        user=superuser,
        file_name="分工表.xlsx",
        stored_path=str(stored),
        status=ImportJob.Status.RUNNING,
        confirmed=True,
        heartbeat=timezone.now() - dt.timedelta(minutes=settings.DATAIO_STALE_MINUTES + 1),
    )
    assert cleanup_jobs()["stale"] == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "没有写入" in job.message
    assert not Household.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        jobs.rerun_job(job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Household.objects.count() == 5


def test_it_keeps_the_import_export_resource_api(tmp_path, places, campaign, superuser):
    import tablib

    resource = ResponsibilityResource(user=superuser, county="新绛县")
    data = tablib.Dataset(
        headers=["镇（街道）", "村（社区）", "党员姓名", "党员联系电话", "所在党组织", "户主姓名", "户主联系电话"]
    )
    data.append(["龙兴镇", "周庄村", "张建国", "13912345678", "周庄村党支部", "李秀英", "13812345601"])
    result = resource.import_data(data, dry_run=True)
    assert result.totals["new"] == 1 and not result.has_errors()
    assert not Household.objects.exists()
    resource.import_data(data, dry_run=False)
    exported = resource.export()
    assert exported.dict[0]["户主姓名"] == "李秀英"


@pytest.mark.django_db(transaction=True)
def test_it_runs_jobs_through_the_database_queue_worker(tmp_path, places, settings, superuser):
    """The production path: the request only queues the job; ``db_worker`` picks it up from the database."""
    from django.core.management import call_command

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    factories.make_campaign()
    stored = tmp_path / "upload.xlsx"
    stored.write_bytes(responsibility_book({"龙兴镇": longxing_rows()}))
    job = jobs.start_import(superuser, "responsibility", stored, "分工表.xlsx")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW and job.new == 5
    jobs.confirm_import(job)
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Household.objects.count() == 5


def test_it_closes_the_librarys_own_confirm_step(client, superuser):
    client.force_login(superuser)
    response = client.post(reverse("admin:people_household_process_import"), {"import_file_name": "../x"})
    assert response.status_code == 404
