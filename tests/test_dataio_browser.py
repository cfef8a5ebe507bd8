"""The 导入 page as a county clerk clicks through it: upload, preview, confirm (real chromium)."""

import pytest
from django.urls import reverse

from tests import factories
from tests.browser import end_other_sessions, launch_chromium
from tests.dataio_files import responsibility_book
from tests.test_dataio_import import longxing_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(transactional_db):
    # After the database, so the browser closes before the flush (see tests/test_mobile_browser.py's phone).
    with launch_chromium() as browser:
        context = browser.new_context()
        yield context.new_page()
        context.close()
    end_other_sessions()  # a live-server request may still hold a session (tests/browser.py)


def test_it_uploads_previews_and_confirms_an_import(live_server, page, places, settings, tmp_path):
    settings.DATAIO_DIR = tmp_path / "dataio"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    factories.make_campaign()
    factories.make_user(username="root", is_superuser=True)
    path = tmp_path / "新绛县责任分工表.xlsx"
    path.write_bytes(responsibility_book({"龙兴镇": longxing_rows()}))
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "root")
    page.fill("#id_password", factories.PASSWORD)
    page.click("input[type=submit]")
    page.goto(live_server.url + reverse("admin:campaigns_assignment_changelist"))
    page.click("a.import_link")
    page.set_input_files("input[type=file]", str(path))
    page.click("input[value=上传并检查]")
    page.wait_for_selector("text=确认导入")
    body = page.inner_text("#content")
    assert "新增 5" in body.replace("\n", " ") and "李秀英" in body
    page.click("input[value=确认导入]")
    page.wait_for_selector("text=已写入")
    from outreach.people.models import Household

    assert Household.objects.filter(village=places.zhouzhuang).count() == 3
