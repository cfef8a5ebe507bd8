"""Importing the 责任分工表, rosters, member lists and App bulletins as counties really make them."""

import datetime as dt
import io
import json
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command

from outreach.accounts.models import AccessLog
from outreach.campaigns.models import Assignment
from outreach.dataio.exporters import export_file
from outreach.dataio.readers import UploadRefused
from outreach.dataio.services import import_file
from outreach.lib.signals import field_data_changed, registration_data_changed
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import GridArea
from outreach.registrations.models import RegistrationReport
from tests import factories
from tests.dataio_files import HEADER, responsibility_book, simple_book, xls_book

SAMPLE = Path(__file__).parent / "data" / "稷山县_责任分工表_示例.xlsx"

# Uploads and jobs in a temporary DATAIO_DIR, jobs run inline (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("dataio_settings")


@pytest.fixture
def campaign(db):
    # Running today: a sheet whose title names no campaign goes into the one running campaign of its county.
    return factories.make_running_campaign()


def write(tmp_path, name, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def counts():
    return (
        Household.objects.count(),
        PartyMember.objects.count(),
        Assignment.objects.count(),
        GridArea.objects.count(),
    )


def longxing_rows():
    """Two members over five households of 周庄村 and 王庄村, phones in clerks' spellings."""
    return [
        [1, "龙兴镇", "周庄村", "第1网格", "张建国", 13912345678.0, "周庄村党支部", "李秀英", "138 1234 5601", "周庄村1组1号", 3, None],
        [2, "龙兴镇", "周庄村", "第1网格", None, None, None, "王  强", "138-1234-5602", "周庄村1组2号", 2, "独居老人"],
        [3, "龙兴镇", "周庄村委会", "第3网格", None, None, None, "赵刚", "１３８１２３４５６０３", "周庄村2组3号", 4, None],
        [4, "龙兴镇 ", "王庄村", "第1网格", "刘敏", "139-1234-5679", "县农机发展中心党支部", "陈红", 13812345604, "王庄村1组4号", 1, None],
        [5, "龙兴镇", "王庄村", "第1网格", None, None, None, "杨丽", None, "王庄村1组5号", 5, None],
    ]  # fmt: skip


def test_it_imports_the_real_sample_with_its_households_members_villages_and_towns(places, campaign):
    report = import_file("responsibility", SAMPLE)
    assert report.written and not report.errors
    assert report.county == "稷山县"
    assert (report.rows, report.new) == (108, 108)
    households = Household.objects.filter(county=places.jishan)
    assert households.count() == 108
    assert PartyMember.objects.filter(county=places.jishan).count() == 12
    assert households.values("village").distinct().count() == 6
    assert households.values("town").distinct().count() == 2
    assert Assignment.objects.filter(campaign=campaign, household__county=places.jishan).count() == 108
    # Phones stored as numbers, with spaces, dashes and full-width digits all come out as 11 digits.
    assert households.get(head_name="赵庆").phone == "18087139748"
    assert households.get(head_name="金勇").phone == "15669540411"
    assert households.get(head_name="毛国").phone == "19476746886"
    assert households.get(head_name="彭建").phone == "13351724516"  # stray spaces gone
    member = PartyMember.objects.get(name="潘娟小")
    assert member.phone == "13779154471"
    # The merged member cells cover all seven households of the first block.
    assert Assignment.objects.filter(member=member).count() == 7
    assert PartyOrganization.objects.filter(county=places.jishan, name="稷山县农机发展中心党支部").exists()


def test_it_changes_nothing_when_the_same_file_is_imported_twice(places, campaign):
    import_file("responsibility", SAMPLE)
    before = counts()
    again = import_file("responsibility", SAMPLE)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 108)
    assert counts() == before


def test_it_reads_title_rows_merged_member_cells_several_sheets_and_makes_new_grids(tmp_path, places, campaign):
    sanquan = places.sanquan_village.short_name
    data = responsibility_book(
        {
            "龙兴镇": longxing_rows(),
            "三泉镇": [
                [
                    1,
                    "三泉镇",
                    sanquan,
                    None,
                    "孙伟",
                    "13712345670",
                    f"{sanquan}党支部",
                    "周平",
                    "13612345670",
                    "",
                    2,
                    None,
                ]
            ],
        }
    )
    report = import_file("responsibility", write(tmp_path, "分工表.xlsx", data))
    assert not report.errors, report.errors
    assert (report.rows, report.new) == (6, 6)
    zhang = PartyMember.objects.get(name="张建国")
    assert zhang.phone == "13912345678"
    assert set(Assignment.objects.filter(member=zhang).values_list("household__head_name", flat=True)) == {
        "李秀英", "王强", "赵刚",
    }  # fmt: skip
    zhao = Household.objects.get(head_name="赵刚")
    assert zhao.village == places.zhouzhuang  # "周庄村委会" and "周庄村" are one village
    assert zhao.phone == "13812345603"
    assert zhao.grid.name == "第3网格"  # a grid named in the sheet is created under its village
    assert any("新建网格" in note for note in report.notes)
    assert Household.objects.get(head_name="王强").elderly_alone
    assert Household.objects.get(head_name="杨丽").phone == ""


def test_it_reports_bad_rows_with_their_excel_row_numbers_and_writes_nothing(tmp_path, places, campaign):
    rows = longxing_rows()
    rows[1][2] = "不存在村"  # Excel row 5
    rows[2][8] = "1381234560"  # Excel row 6: ten digits
    rows[4][7] = None  # Excel row 8: no 户主姓名
    before = counts()
    report = import_file("responsibility", write(tmp_path, "bad.xlsx", responsibility_book({"龙兴镇": rows})))
    assert not report.written
    found = {(e.sheet, e.row, e.column) for e in report.errors}
    assert found == {("龙兴镇", 5, "村（社区）"), ("龙兴镇", 6, "户主联系电话"), ("龙兴镇", 8, "户主姓名")}
    messages = {e.row: e.message for e in report.errors}
    assert messages[5] == "新绛县龙兴镇下没有“不存在村”"
    assert "1381234560" in messages[6]
    assert str(next(e for e in report.errors if e.row == 5)) == "龙兴镇 第5行 村（社区）：新绛县龙兴镇下没有“不存在村”"
    assert counts() == before
    assert AccessLog.objects.filter(kind=AccessLog.Kind.IMPORT, detail__contains="未写入").exists()


def test_it_reports_every_row_of_a_bad_place_even_after_the_same_cells_read_well(tmp_path, places, campaign):
    rows = longxing_rows()
    rows[2][2] = rows[3][2] = "不存在村"  # Excel rows 6 and 7, after 周庄村 read well on rows 4 and 5
    rows[4][1], rows[4][2] = "三泉镇", "周庄村"  # Excel row 8: the village read well, but under another town
    rows.append([6, "龙兴镇", "王庄村", "第1网格", None, None, None, "周杰", None, "王庄村1组6号", 2, "签字：王五"])
    before = counts()
    report = import_file("responsibility", write(tmp_path, "bad.xlsx", responsibility_book({"龙兴镇": rows})))
    assert not report.written and counts() == before
    found = {(e.row, e.column, e.message) for e in report.errors}
    assert found == {
        (6, "村（社区）", "新绛县龙兴镇下没有“不存在村”"),
        (7, "村（社区）", "新绛县龙兴镇下没有“不存在村”"),
        (8, "村（社区）", "新绛县三泉镇下没有“周庄村”"),
    }
    assert report.rows == 5  # the line with a cell beginning 签字 is a signature, not a household


def test_it_asks_each_new_household_dated_in_the_past_for_its_reason(tmp_path, places):
    from django.utils import timezone

    from outreach.people.models import RosterCorrection

    past = f"{timezone.localdate() - dt.timedelta(days=30):%Y-%m-%d}"
    head = ["镇（街道）", "村（社区）", "户主姓名", "户主联系电话", "列入花名册日期", "更正原因"]
    rows = [["龙兴镇", "周庄村", f"补登{n}", f"1380000000{n}", past, "漏登补录"] for n in range(1, 4)]
    rows[2][5] = None  # Excel row 4: the same past date, no reason
    path = write(tmp_path, "花名册.xlsx", simple_book([head, *rows]))
    report = import_file("households", path, county="新绛县")
    assert [(e.row, e.column) for e in report.errors] == [(4, "列入花名册日期")]
    rows[2][5] = "漏登补录"
    path = write(tmp_path, "花名册.xlsx", simple_book([head, *rows]))
    assert import_file("households", path, county="新绛县").ok
    assert RosterCorrection.objects.filter(reason__contains="漏登补录").count() == 3


def test_it_reads_gb18030_csv_as_excel_saves_it_on_chinese_windows(tmp_path, places, campaign):
    lines = [",".join(HEADER)] + [
        "1,龙兴镇,周庄村,第1网格,张建国,13912345678,周庄村党支部,李秀英,13812345601,周庄村1组1号,3,",
        "2,龙兴镇,周庄村,第1网格,张建国,13912345678,周庄村党支部,王强,13812345602,周庄村1组2号,2,",
    ]
    path = write(tmp_path, "分工表.csv", ("\r\n".join(lines) + "\r\n").encode("gb18030"))
    report = import_file("responsibility", path, county="新绛县")
    assert not report.errors, report.errors
    assert report.new == 2
    assert PartyMember.objects.filter(name="张建国").count() == 1
    utf8 = write(tmp_path, "utf8.csv", ("\r\n".join(lines)).encode("utf-8-sig"))
    assert import_file("responsibility", utf8, county="新绛县").unchanged == 2


def test_it_reads_xls_files(tmp_path, places, campaign):
    rows = [["新绛县党员包联入户责任分工表"], HEADER, *longxing_rows()]
    report = import_file("responsibility", write(tmp_path, "分工表.xls", xls_book(rows)))
    assert not report.errors, report.errors
    assert report.new == 5
    # Without merged ranges, a member left blank under their first household is carried down.
    assert Assignment.objects.filter(member__name="刘敏").count() == 2


def test_it_refuses_an_import_into_another_countys_village(tmp_path, places, users, campaign):
    jishan = places.jishan_village
    data = responsibility_book(
        {
            places.jishan_town.name: [
                [
                    1,
                    places.jishan_town.name,
                    jishan.short_name,
                    None,
                    "孙伟",
                    "13712345670",
                    "某党支部",
                    "周平",
                    "13612345670",
                    "",
                    2,
                    None,
                ]
            ]
        },  # fmt: skip
        title="稷山县党员包联入户责任分工表",
    )
    path = write(tmp_path, "稷山.xlsx", data)
    # The 新绛县 user's file is read in 新绛县, where that village does not exist.
    report = import_file("responsibility", path, user=users.county)
    assert report.errors and not report.written
    assert report.errors[0].column == "镇（街道）" or report.errors[0].column == "村（社区）"
    with pytest.raises(UploadRefused):
        import_file("responsibility", path, user=users.county, county="稷山县")
    assert not Household.objects.filter(county=places.jishan).exists()


def test_it_never_lets_a_typed_household_id_reach_another_area(tmp_path, places, users, campaign):
    other = factories.make_household(places.jishan_village, head_name="外县户")
    rows = [["户编号", "镇（街道）", "村（社区）", "户主姓名", "户主联系电话", "家庭人口"],
            [other.pk, "龙兴镇", "周庄村", "改名", "13812345678", 2]]  # fmt: skip
    report = import_file("households", write(tmp_path, "花名册.xlsx", simple_book(rows)), user=users.county)
    assert [(e.row, e.column) for e in report.errors] == [(2, "户编号")]
    assert "不存在或不在您的管辖范围内" in report.errors[0].message
    other.refresh_from_db()
    assert other.head_name == "外县户"


def test_it_keeps_a_town_users_import_inside_their_town(tmp_path, places, users, campaign, monkeypatch):
    sanquan = places.sanquan_village.short_name
    rows = [["镇（街道）", "村（社区）", "户主姓名", "户主联系电话"], ["三泉镇", sanquan, "周平", "13612345670"]]
    path = write(tmp_path, "h.xlsx", simple_book(rows))
    # Town staff only export (README's role table): the import is refused before a row is read ...
    with pytest.raises(UploadRefused, match="没有导入"):
        import_file("households", path, user=users.town)
    # ... and were the permission given, the rows would still have to lie in the town.
    monkeypatch.setattr(type(users.town), "has_perm", lambda self, perm, obj=None: True)
    report = import_file("households", path, user=users.town)
    assert report.errors and report.errors[0].row == 2
    assert not Household.objects.filter(head_name="周平").exists()


def test_it_round_trips_an_export_unchanged_and_updates_edits_in_place(tmp_path, places, users, campaign):
    import_file("responsibility", write(tmp_path, "a.xlsx", responsibility_book({"龙兴镇": longxing_rows()})))
    before = counts()
    out = tmp_path / "export.xlsx"
    rows = export_file("responsibility", out, user=users.county)
    assert rows == 5
    book = openpyxl.load_workbook(out)
    sheet = book["龙兴镇"]
    header = [c.value for c in sheet[2]]
    assert "户编号" in header and "党员编号" in header and "已走访" in header
    phone_col = header.index("户主联系电话")
    assert sheet.cell(row=3, column=phone_col + 1).value.count("*") == 4  # masked for a county user
    report = import_file("responsibility", out, user=users.county)
    assert not report.errors, report.errors
    assert (report.new, report.updated, report.unchanged) == (0, 0, 5)
    # An edit in Excel (a new address, a renamed head) updates in place and duplicates nothing.
    name_col = header.index("户主姓名") + 1
    sheet.cell(row=3, column=name_col).value = "李秀英改"
    sheet.cell(row=3, column=header.index("家庭住址") + 1).value = "周庄村9组9号"
    book.save(out)
    report = import_file("responsibility", out, user=users.county)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 4)
    assert counts() == before
    assert Household.objects.get(head_name="李秀英改").address == "周庄村9组9号"


def test_it_sends_field_data_changed_on_commit(tmp_path, places, campaign, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, village_ids, **kwargs):
        received.append(set(village_ids))

    field_data_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            import_file("responsibility", write(tmp_path, "a.xlsx", responsibility_book({"龙兴镇": longxing_rows()})))
    finally:
        field_data_changed.disconnect(receiver)
    assert received == [{places.zhouzhuang.pk, places.wangzhuang.pk}]


def test_it_imports_the_app_bulletin_with_the_date_from_its_title(tmp_path, places, django_capture_on_commit_callbacks):
    rows = [["县（市、区）", "常住人口", "安装注册人数", "实名用户数"],
            ["新绛县", 283000, 62113, 49213], ["稷山", None, 40000, 30000], ["合计", None, 102113, 79213]]  # fmt: skip
    path = write(tmp_path, "通报.xlsx", simple_book(rows, title="国家反诈中心App注册情况通报（截至2021年8月13日）"))
    received = []

    def receiver(sender, county_ids, dates, **kwargs):
        received.append((set(county_ids), set(dates)))

    registration_data_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = import_file("registrations", path)
    finally:
        registration_data_changed.disconnect(receiver)
    assert not report.errors, report.errors
    assert report.new == 2
    xinjiang = RegistrationReport.objects.get(county=places.xinjiang, town=None)
    assert (xinjiang.as_of, xinjiang.registered, xinjiang.verified) == (dt.date(2021, 8, 13), 62113, 49213)
    assert received == [({places.xinjiang.pk, places.jishan.pk}, {dt.date(2021, 8, 13)})]
    assert import_file("registrations", path).unchanged == 2


def test_it_imports_town_rows_of_a_bulletin_for_a_given_date(tmp_path, places):
    rows = [["镇（街道）", "安装注册人数", "实名用户数"], ["龙兴镇", 5000, 4000], ["三泉镇", 3000, 3500]]
    path = write(tmp_path, "镇.xlsx", simple_book(rows))
    report = import_file("registrations", path, county="新绛县", as_of=dt.date(2021, 8, 20))
    assert [(e.row, e.column) for e in report.errors] == [(3, "实名用户数")]
    assert not RegistrationReport.objects.exists()


def test_it_imports_members_matched_by_phone_then_name_in_organization(tmp_path, places):
    existing = factories.make_member(places.zhouzhuang, name="张建国", phone="13912345678")
    rows = [["党员姓名", "联系电话", "所在党组织", "村（社区）"],
            ["张建国", "139 1234 5678", existing.organization.name, "周庄村"],
            ["刘敏", "", "县农机发展中心党支部", None]]  # fmt: skip
    report = import_file("members", write(tmp_path, "党员.xlsx", simple_book(rows)), county="新绛县")
    assert not report.errors, report.errors
    assert (report.new, report.unchanged) == (1, 1)
    assert PartyMember.objects.filter(name="张建国").count() == 1
    assert PartyMember.objects.get(name="刘敏").organization.name == "县农机发展中心党支部"


def test_it_refuses_files_that_must_not_be_opened(tmp_path, places, settings):
    with pytest.raises(UploadRefused, match="只能导入"):
        import_file("households", write(tmp_path, "a.txt", b"hello"))
    with pytest.raises(UploadRefused, match="不是有效的"):
        import_file("households", write(tmp_path, "a.xlsx", b"not a zip"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (2 * 1024 * 1024))
    settings.DATAIO_MAX_UNCOMPRESSED_MB = 1
    with pytest.raises(UploadRefused, match="压缩炸弹"):
        import_file("households", write(tmp_path, "bomb.xlsx", bomb.getvalue()))
    settings.DATAIO_MAX_UNCOMPRESSED_MB = 500
    entity = io.BytesIO()
    with zipfile.ZipFile(entity, "w") as archive:
        archive.writestr("[Content_Types].xml", b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]><x/>')
    with pytest.raises(UploadRefused, match="不安全"):
        import_file("households", write(tmp_path, "xml.xlsx", entity.getvalue()))
    settings.DATAIO_MAX_UPLOAD_MB = 0
    with pytest.raises(UploadRefused, match="文件太大"):
        import_file("households", write(tmp_path, "big.csv", b"a,b\n"))


def test_it_prints_json_and_exits_1_when_refused(tmp_path, places, campaign, capsys):
    rows = longxing_rows()
    rows[0][2] = "不存在村"
    bad = write(tmp_path, "bad.xlsx", responsibility_book({"龙兴镇": rows}))
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_table", "responsibility", str(bad), "--json")
    assert exit_info.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["errors"] == [
        {"sheet": "龙兴镇", "row": 4, "column": "村（社区）", "message": "新绛县龙兴镇下没有“不存在村”"}
    ]
    good = write(tmp_path, "good.xlsx", responsibility_book({"龙兴镇": longxing_rows()}))
    call_command("import_table", "responsibility", str(good), "--json", "--dry-run")
    out = json.loads(capsys.readouterr().out)
    assert (out["rows"], out["new"], out["errors"]) == (5, 5, [])
    assert not Household.objects.filter(head_name="李秀英").exists()
    call_command("import_table", "responsibility", str(good), "--json", "--county", "140825000000")
    out = json.loads(capsys.readouterr().out)
    assert out["new"] == 5 and Household.objects.filter(head_name="李秀英").exists()


def test_it_exports_every_kind_from_the_command_line_with_formulas_made_text(tmp_path, places, campaign):
    household = factories.make_household(places.zhouzhuang, head_name="=HYPERLINK(1)")
    member = factories.make_member(places.zhouzhuang)
    factories.make_assignment(household, member, campaign)
    factories.make_visit(household, visitor=member, campaign=campaign, signed=True)
    for kind in ("responsibility", "households", "members", "registrations", "visits"):
        out = tmp_path / f"{kind}.xlsx"
        call_command("export_table", kind, "--county", "新绛县", "-o", str(out))
        assert out.exists()
    book = openpyxl.load_workbook(tmp_path / "responsibility.xlsx")
    values = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert "=HYPERLINK(1)" in values  # as typed, with the quote-prefix style (test_exports)
    header = [c.value for c in book.worksheets[0][2]]
    row = [c.value for c in book.worksheets[0][3]]
    assert row[header.index("已走访")] == "是" and row[header.index("已签承诺书")] == "是"
    assert AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT).count() == 5
    call_command("export_table", "households", "--template", "-o", str(tmp_path / "t.xlsx"))
    shutil.rmtree(tmp_path / "dataio", ignore_errors=True)


def test_it_imports_a_roster_with_flags_and_updates_it_in_place(tmp_path, places):
    rows = [["户主姓名", "联系电话", "村(社区)", "家庭人口", "独居老人", "学生家庭", "备注"],
            ["李秀英", "13812345601", "周庄村", 1, "是", "否", None],
            ["王强", None, "王庄村委会", "3", "", "√", "无电话"]]  # fmt: skip
    path = write(tmp_path, "花名册.xlsx", simple_book(rows, title="新绛县龙兴镇住户花名册"))
    report = import_file("households", path)
    assert not report.errors, report.errors
    li = Household.objects.get(head_name="李秀英")
    assert (li.elderly_alone, li.student_family, li.size, li.town) == (True, False, 1, places.longxing)
    assert Household.objects.get(head_name="王强").student_family
    rows[1][3] = 2
    report = import_file("households", write(tmp_path, "花名册2.xlsx", simple_book(rows, title="新绛县住户花名册")))
    assert (report.new, report.updated, report.unchanged) == (0, 1, 1)
    li.refresh_from_db()
    assert li.size == 2 and Household.objects.count() == 2
    rows[2][3] = "三口"
    report = import_file("households", write(tmp_path, "花名册3.xlsx", simple_book(rows, title="新绛县住户花名册")))
    assert [(e.row, e.column) for e in report.errors] == [(4, "家庭人口")]


def test_it_matches_a_household_by_address_when_one_side_has_no_phone(tmp_path, places):
    existing = factories.make_household(places.zhouzhuang, head_name="李秀英", phone="", address="周庄村1组1号")
    rows = [["户主姓名", "联系电话", "村（社区）", "家庭住址"],
            ["李秀英", "13812345601", "周庄村", "周庄村1组1号"],
            ["李秀英", "13812345601", "周庄村", "周庄村1组1号"]]  # fmt: skip
    report = import_file("households", write(tmp_path, "h.xlsx", simple_book(rows)), county="新绛县")
    assert [(e.row, e.message) for e in report.errors] == [(3, "与本表第2行是同一户（户主姓名和电话/住址相同）")]
    del rows[2]
    report = import_file("households", write(tmp_path, "h2.xlsx", simple_book(rows)), county="新绛县")
    assert (report.new, report.updated) == (0, 1)
    existing.refresh_from_db()
    assert existing.phone == "13812345601"


def test_it_exports_each_households_progress_in_the_campaign_only(tmp_path, places, campaign):
    import_file("responsibility", write(tmp_path, "a.xlsx", responsibility_book({"龙兴镇": longxing_rows()})))
    li, wang = Household.objects.get(head_name="李秀英"), Household.objects.get(head_name="王强")
    member = PartyMember.objects.get(name="张建国")
    visited_at = dt.datetime(2021, 8, 3, 9, 30, tzinfo=dt.UTC)
    factories.make_visit(
        li, visitor=member, campaign=campaign, visited_at=visited_at, signed=True, app_installed=2, app_registered=2
    )
    factories.make_visit(li, visitor=member, campaign=campaign, visited_at=visited_at - dt.timedelta(days=1))
    # Another campaign's visit is not this sheet's progress.
    factories.make_visit(wang, visitor=member, campaign=factories.make_campaign(name="秋季专项"), signed=True)
    out = tmp_path / "export.xlsx"
    assert export_file("responsibility", out, county=li.county, campaign=campaign) == 5
    sheet = openpyxl.load_workbook(out)["龙兴镇"]
    header = [c.value for c in sheet[2]]
    rows = {r[header.index("户主姓名")]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
    progress = [header.index(h) for h in ("已走访", "最近走访日期", "已签承诺书", "App已注册")]
    li_row, wang_row = rows["李秀英"], rows["王强"]
    assert [li_row[i] for i in progress] == ["是", dt.datetime(2021, 8, 3), "是", "是"]
    assert [wang_row[i] for i in progress] == ["否", None, "否", "否"]


def test_it_keeps_only_the_existing_households_the_file_names(tmp_path, places, campaign, monkeypatch):
    from outreach.dataio.importers.households import HouseholdImporter

    import_file("responsibility", write(tmp_path, "a.xlsx", responsibility_book({"龙兴镇": longxing_rows()})))
    village = Household.objects.get(head_name="李秀英").village
    for n in range(30):  # the rest of the village's roster, which the file does not name
        factories.make_household(village, head_name=f"其他户{n}", phone=f"137000000{n:02d}")
    kept = []
    original = HouseholdImporter.load_households

    def load(self):
        original(self)
        kept.append(len(self.existing))

    monkeypatch.setattr(HouseholdImporter, "load_households", load)
    report = import_file("responsibility", write(tmp_path, "b.xlsx", responsibility_book({"龙兴镇": longxing_rows()})))
    assert (report.new, report.updated, report.unchanged) == (0, 0, 5)
    assert kept == [5]


def test_it_reports_every_row_of_a_repeated_bad_cell_and_tells_a_true_from_a_one(tmp_path, places, campaign):
    # Cleaned cells are remembered per column (a sheet holds a few distinct 家庭人口): a remembered error is still
    # said for each of its rows, and the Excel boolean TRUE is not the number 1 it equals in Python.
    rows = longxing_rows()
    rows[0][10] = 1  # Excel row 4: a good 家庭人口
    rows[1][10] = rows[3][10] = "三口"  # Excel rows 5 and 7: the same bad cell twice
    rows[2][10] = True  # Excel row 6: TRUE after 1 read well
    before = counts()
    report = import_file("responsibility", write(tmp_path, "bad.xlsx", responsibility_book({"龙兴镇": rows})))
    assert not report.written and counts() == before
    found = {(e.row, e.column) for e in report.errors}
    assert found == {(5, "家庭人口"), (6, "家庭人口"), (7, "家庭人口")}
    assert all("三口" in e.message for e in report.errors if e.row in (5, 7))


def test_it_reads_a_signature_word_inside_a_note_as_data(tmp_path, places, campaign):
    # Only a cell that starts with a signature word makes a signature line; the word inside a note does not.
    rows = longxing_rows()
    rows[4][11] = "电话由填表人核实"
    report = import_file("responsibility", write(tmp_path, "note.xlsx", responsibility_book({"龙兴镇": rows})))
    assert report.written and report.new == 5
    assert Household.objects.get(head_name="杨丽").note == "电话由填表人核实"


def test_it_reads_text_cells_as_the_lenient_parser_does():
    from outreach.dataio.cells import text
    from outreach.lib.parse import cell_text

    for cell in (" 李秀英 ", "王\u3000强\u3000", "'=1+1", "'张三", "", None, 13.0, 13812345678, True):
        assert text(cell) == cell_text(cell)
    assert text("'=1+1") == "=1+1" and text("王\u3000强\u3000") == "王 强"


def test_it_reserves_fresh_consecutive_keys(places):
    from django.db import connection, transaction

    from outreach.dataio.writers import reserve_ids

    with transaction.atomic():
        taken = factories.make_household(places.zhouzhuang, head_name="已有户").pk
        first = reserve_ids(Household, 3)
        # One run of keys comes back as a range (one row from the database, not one a key).
        assert isinstance(first, range) and len(first) == 3 and min(first) > taken
        if connection.vendor == "postgresql":  # from the sequence: a second reservation never meets the first
            assert not set(first) & set(reserve_ids(Household, 2))
    assert reserve_ids(Household, 0) == []
