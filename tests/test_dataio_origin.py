"""A sheet of another county is said once, the title's county is used when it may be, and repeats collapse."""

from pathlib import Path

import pytest

from outreach.dataio.admin import errors_workbook
from outreach.dataio.results import RowError, collapse_repeats
from outreach.dataio.services import import_file
from outreach.people.models import Household
from tests import factories
from tests.dataio_files import responsibility_book

SAMPLE = Path(__file__).parent / "data" / "稷山县_责任分工表_示例.xlsx"


@pytest.fixture
def campaign(db):
    return factories.make_running_campaign()


def test_it_says_once_that_another_countys_sheet_is_not_the_users(places, users, campaign):
    report = import_file("responsibility", SAMPLE, user=users.county, dry_run=True)
    assert len(report.errors) == 1, [str(e) for e in report.errors]
    (error,) = report.errors
    assert error.message.startswith("这张表是稷山县的（标题、乡镇名），您只能导入新绛县的数据")
    assert "稷峰镇" in error.message and "西社镇" in error.message
    assert (error.sheet, error.row, error.column) == ("", 0, "镇（街道）")
    assert str(error).startswith("镇（街道）：这张表是稷山县的")


def test_it_names_the_towns_when_the_title_names_no_county(tmp_path, places, users, campaign):
    town = places.jishan_town.name
    rows = [[i, town, places.jishan_village.short_name, None, "孙伟", "13712345670", "某党支部",
             f"户主{i}", f"1361234567{i}", "", 2, None] for i in range(1, 4)]  # fmt: skip
    path = tmp_path / "无县名.xlsx"
    path.write_bytes(responsibility_book({town: rows}, title="党员包联入户责任分工表"))
    report = import_file("responsibility", path, user=users.county, dry_run=True)
    assert [e.message for e in report.errors] == [
        f"这张表是稷山县的（乡镇名），您只能导入新绛县的数据（共3行的乡镇不在新绛县：{town}）"
    ]


def test_it_uses_the_county_the_title_names_when_the_user_may_import_there(places, users, campaign):
    report = import_file("responsibility", SAMPLE, user=users.other_county, dry_run=True)
    assert not report.errors and report.county == "稷山县"
    # A city-wide operator (no county of their own) gets the title's county too.
    report = import_file("responsibility", SAMPLE, dry_run=True)
    assert not report.errors and report.county == "稷山县"


def test_it_asks_for_the_right_county_when_one_was_chosen_against_the_title(places, campaign):
    report = import_file("responsibility", SAMPLE, county="新绛县", dry_run=True)
    assert [e.message.split("（共")[0] for e in report.errors] == [
        "这张表是稷山县的（标题、乡镇名），不是新绛县的：请在“县（市、区）”中选择稷山县"
    ]
    assert not Household.objects.exists()


def test_it_collapses_an_error_repeated_for_many_rows_into_one_naming_them(tmp_path, places, campaign):
    rows = [[i, "龙兴镇", "不存在村", None, "张建国", "13912345678", "周庄村党支部", f"户主{i}",
             f"1381234560{i}", "", 2, None] for i in range(1, 6)]  # fmt: skip
    rows.append([6, "龙兴镇", "周庄村", None, "张建国", "13912345678", "周庄村党支部", "户主6", "12", "", 2, None])
    path = tmp_path / "repeat.xlsx"
    path.write_bytes(responsibility_book({"龙兴镇": rows}))
    report = import_file("responsibility", path, dry_run=True)
    assert [str(e) for e in report.errors] == [
        "龙兴镇 第4–8行（共5行） 村（社区）：新绛县龙兴镇下没有“不存在村”",
        "龙兴镇 第9行 户主联系电话：“12”不是11位手机号或带区号的座机号",
    ]
    assert report.errors[0].as_dict()["rows"] == "第4–8行"


def test_it_keeps_two_repeats_apart_and_spans_gaps():
    errors = [RowError("表", row, "村（社区）", "错") for row in (3, 4, 5, 9, 11, 12)]
    (one,) = collapse_repeats(errors)
    assert (one.span, one.count, one.row) == ("第3–5、9、11–12行", 6, 3)
    two = [RowError("表", 3, "村", "错"), RowError("表", 4, "村", "错")]
    assert collapse_repeats(two) == two


def test_it_names_the_rows_of_a_collapsed_error_in_the_errors_sheet(places):
    import io

    import openpyxl

    from outreach.dataio.models import ImportJob

    job = ImportJob(file_name="a.xlsx", errors=[RowError("表", 3, "村", "错", rows=(3, 4, 5)).as_dict()])
    sheet = openpyxl.load_workbook(io.BytesIO(errors_workbook(job))).active
    assert [c.value for c in sheet[3]] == ["表", 3, "村", "第3–5行（共3行）：错"]
