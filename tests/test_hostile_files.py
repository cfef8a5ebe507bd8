"""Hostile and odd files (security round two, defects 3 and 8): a bomb under the total limit, an over-long
cell, previews that stay small and go with the job, byte-order marks, and commands run for a user."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

from outreach.dataio import jobs
from outreach.dataio.models import ImportJob
from outreach.dataio.services import import_file
from outreach.lib.uploads import UploadRefused, check_upload
from outreach.people.models import Household
from tests import factories
from tests.dataio_files import responsibility_book, simple_book
from tests.test_dataio_import import longxing_rows

# Uploads and jobs in a temporary DATAIO_DIR, jobs run inline (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("dataio_settings")


@pytest.fixture
def campaign(db):
    return factories.make_campaign()


def _write(tmp_path, name, data) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_it_refuses_a_member_inflating_at_a_ratio_no_sheet_has_even_under_the_total_limit(tmp_path, settings):
    settings.DATAIO_MAX_UNCOMPRESSED_MB = 150
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b"A" * (20 * 1024 * 1024) + b"</sst>")
    path = _write(tmp_path, "bomb.xlsx", bomb.getvalue())
    assert path.stat().st_size < 100_000  # a small upload, far under every size limit
    with pytest.raises(UploadRefused, match=r"xl/sharedStrings.xml 压缩比 \d+:1"):
        check_upload(path, "bomb.xlsx")


def test_it_refuses_the_first_over_long_cell_naming_sheet_row_and_column(tmp_path, places, campaign, settings):
    settings.DATAIO_MAX_CELL_CHARS = 500
    rows = longxing_rows()
    rows[2][9] = "周庄村" * 400
    path = _write(tmp_path, "long.xlsx", responsibility_book({"龙兴镇": rows}))
    with pytest.raises(UploadRefused, match=r"工作表“龙兴镇”第\d+行J列的内容有1,200个字符"):
        import_file("responsibility", path)
    assert not Household.objects.exists()


def test_an_over_long_cell_in_the_title_rows_is_refused_too(tmp_path, places, campaign, settings):
    settings.DATAIO_MAX_CELL_CHARS = 100
    path = _write(
        tmp_path, "title.xlsx", simple_book([["户主姓名", "村（社区）"], ["张三", "周庄村"]], title="标" * 200)
    )
    with pytest.raises(UploadRefused, match="第1行A列"):
        import_file("households", path, county="新绛县")


def test_a_preview_keeps_short_values_and_goes_with_the_cancel(
    client, superuser, places, campaign, settings, django_capture_on_commit_callbacks
):
    rows = longxing_rows()
    rows[0][9] = "周庄村1组1号" + "（靠近村委会东侧第三户）" * 40
    path = _write(settings.DATAIO_DIR.parent, "分工表.xlsx", responsibility_book({"龙兴镇": rows}))
    stored = settings.DATAIO_DIR / "uploads"
    stored.mkdir(parents=True, exist_ok=True)
    copy = stored / "job.xlsx"
    copy.write_bytes(path.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.start_import(superuser, "responsibility", copy, "分工表.xlsx")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEW
    values = [v for row in job.preview["rows"] for v in row["values"].values()]
    assert values and max(len(v) for v in values) <= jobs.PREVIEW_VALUE_CHARS
    jobs.cancel_import(job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED and job.preview == {} and not copy.exists()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030-bom"])
def test_it_reads_a_csv_with_a_byte_order_mark(tmp_path, places, encoding):
    text = "村（社区）,户主姓名,家庭住址\n周庄村,张三,周庄村1号\n"
    data = text.encode("utf-8-sig") if encoding == "utf-8-sig" else b"\x84\x31\x95\x33" + text.encode("gb18030")
    report = import_file("households", _write(tmp_path, "花名册.csv", data), county="新绛县", dry_run=True)
    assert not report.errors and report.new == 1


def test_import_table_for_a_user_applies_that_users_permissions(tmp_path, places, users, campaign, capsys):
    path = _write(tmp_path, "分工表.xlsx", responsibility_book({"龙兴镇": longxing_rows()}))
    with pytest.raises(SystemExit):
        call_command("import_table", "responsibility", str(path), "--user", users.town.username)
    assert "没有导入" in capsys.readouterr().err
    assert not Household.objects.exists()
    call_command("import_table", "responsibility", str(path), "--user", users.county.username)
    assert Household.objects.count() == 5


def test_export_table_for_a_user_applies_that_users_permissions(tmp_path, places, users, campaign):
    with pytest.raises(UploadRefused, match="没有导出"):
        call_command("export_table", "households", "-o", str(tmp_path / "out.xlsx"), "--user", users.grid.username)
    assert not (tmp_path / "out.xlsx").exists()
