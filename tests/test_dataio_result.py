"""One result type from the importer to the job row and django-import-export's API; a confirmed file checked once."""

import pytest
from django.urls import reverse

from outreach.dataio import services
from outreach.dataio.models import ImportJob
from outreach.dataio.results import ImportResult, RowError
from outreach.people.models import Household
from tests import factories
from tests.dataio_files import responsibility_book
from tests.test_dataio_admin import upload
from tests.test_dataio_import import longxing_rows

# Uploads and jobs in a temporary DATAIO_DIR, jobs run inline (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("dataio_settings")


@pytest.fixture
def campaign(db):
    return factories.make_running_campaign()


def test_it_checks_a_confirmed_file_once_and_reads_it_once_for_the_write(
    client, superuser, places, campaign, monkeypatch, django_capture_on_commit_callbacks
):
    calls = {"check": 0, "read": 0}
    check, read = services.check_upload, services.read_sheets

    def counted_check(*args, **kwargs):
        calls["check"] += 1
        return check(*args, **kwargs)

    def counted_read(*args, **kwargs):
        calls["read"] += 1
        return read(*args, **kwargs)

    monkeypatch.setattr(services, "check_upload", counted_check)
    monkeypatch.setattr(services, "read_sheets", counted_read)
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, responsibility_book({"龙兴镇": longxing_rows()}))
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.PREVIEW and calls == {"check": 1, "read": 1}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:dataio_importjob_confirm", args=[job.pk]), follow=True)
    assert calls == {"check": 1, "read": 2}  # checked at upload; read for the preview and for the write
    assert Household.objects.count() == 5
    # The write ran after the response (on commit): the job page itself says the job waits, no flash needed.
    assert "排队等待后台处理" in response.content.decode() and "正在后台写入" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_it_says_the_import_is_done_when_it_finished_inside_the_request(client, superuser, places, campaign):
    # Autocommit, as under `make run`: the immediate backend writes the file before the page is drawn.
    client.force_login(superuser)
    upload(client, responsibility_book({"龙兴镇": longxing_rows()}))
    job = ImportJob.objects.get()
    response = client.post(reverse("admin:dataio_importjob_confirm", args=[job.pk]), follow=True)
    page = response.content.decode()
    assert "已导入：新增5，更新0，未变0。" in page and "正在后台写入" not in page and "已完成" in page


def test_it_is_one_account_for_the_job_row_and_the_librarys_result():
    result = ImportResult(kind="households", file_name="a.xlsx", county="新绛县", rows=3, new=2, unchanged=1)
    result.preview = [{"action": "new", "sheet": "表", "row": 2, "values": {"家庭住址": "长" * 100}}]
    result.notes = ["新建网格 1 个：周庄村第3网格"]
    fields = result.job_fields()
    assert (fields["rows"], fields["new"], fields["updated"], fields["unchanged"]) == (3, 2, 0, 1)
    assert len(fields["preview"]["rows"][0]["values"]["家庭住址"]) == 60
    assert fields["preview"]["county"] == "新绛县" and fields["message"] == "新建网格 1 个：周庄村第3网格"
    library = result.library_result(["户主姓名"])
    assert library.totals["new"] == 2 and library.totals["skip"] == 1 and not library.has_errors()

    result.errors = [RowError("表", row, "村（社区）", "没有") for row in (2, 3, 4)]
    result.finish_errors(RowError("", 0, "镇（街道）", "这张表是稷山县的"))
    assert [str(e) for e in result.errors] == ["镇（街道）：这张表是稷山县的", "表 第2–4行（共3行） 村（社区）：没有"]
    assert (result.new, result.unchanged) == (0, 0)  # nothing will be written
    assert result.job_fields()["errors"][1] == {
        "sheet": "表", "row": 2, "column": "村（社区）", "message": "没有", "rows": "第2–4行", "count": 3
    }  # fmt: skip
    assert result.library_result().has_errors()
