"""Every .xlsx the product hands out, read back with openpyxl: typed cells, the page's "—", quote-prefixed text.

Each export path has its formula-injection check: the rankings, the bulletin, the five dataio kinds, the
import error list, the import template, the user export (xlsx and csv) and the import-export API.
"""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from outreach.accounts.models import Role, User
from outreach.dashboards.models import Bulletin
from outreach.dashboards.queries import ranking
from outreach.dashboards.services import rebuild_summaries
from outreach.dataio.admin import errors_workbook
from outreach.dataio.exporters import export_file
from outreach.dataio.models import ImportJob
from outreach.dataio.resources import HouseholdResource
from outreach.lib import metrics as m
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FraudType
from tests import factories
from tests.xlsx_checks import assert_quoted_text, column_cells, find_cell, has_no_formulas, open_book

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dataio_settings")]

AUG11, AUG13 = dt.date(2021, 8, 11), dt.date(2021, 8, 13)


def report(county, day, registered, verified=None, population=None):
    return RegistrationReport.objects.create(
        county=county, as_of=day, registered=registered, verified=verified or registered // 2, population=population
    )


def percent_of(cell) -> Decimal:
    """The percentage a 0.00% cell shows, e.g. 0.0313 → Decimal("3.13")."""
    assert cell.data_type == "n" and cell.number_format == "0.00%", (cell.coordinate, cell.number_format)
    return (Decimal(repr(cell.value)) * 100).quantize(Decimal("0.01"))


# ------------------------------------------------------------------------------------------ rankings


@pytest.fixture
def two_reports(places):
    """稷山县 first and 新绛县 second on both report dates (名次升降 持平); 垣曲县 has no population ("—")."""
    report(places.xinjiang, AUG11, 28223)  # 10.00%
    report(places.jishan, AUG11, 47417)  # 15.00%
    report(places.xinjiang, AUG13, 62113)  # 22.01%: +12.01 points
    report(places.jishan, AUG13, 80000)  # 25.31%
    report(County.objects.get(name="垣曲县"), AUG13, 50000)


def test_it_exports_the_county_ranking_as_the_page_shows_it(two_reports, users, client):
    client.force_login(users.county)
    page = client.get("/dashboard/rank/county/?date=2021-08-13")
    response = client.get("/dashboard/rank/county/?date=2021-08-13&export=xlsx")
    assert response["Content-Disposition"] == content_disposition_header(
        True, "运城市县（市、区）注册率排名_20210813.xlsx"
    )
    assert has_no_formulas(response.content)
    sheet = open_book(response.content).active
    headers = [str(c.header) for c in page.context["table"].columns if c.visible]
    assert [c.value for c in sheet[3]] == headers
    rows = {row[headers.index("单位")].value: row for row in sheet.iter_rows(min_row=4)}

    def cell(name, header):
        return rows[name][headers.index(header)]

    assert (cell("稷山县", "名次").value, cell("稷山县", "名次").data_type) == (1, "n")
    assert cell("新绛县", "名次").value == 2
    assert cell("新绛县", "名次升降").value == "持平" and "持平" in page.content.decode()
    assert percent_of(cell("新绛县", "注册率")) == Decimal("22.01")
    delta = cell("新绛县", "较上期")
    assert delta.value == pytest.approx(12.01) and delta.number_format == "+0.00;-0.00;0.00"
    assert (cell("新绛县", "安装注册人数").value, cell("新绛县", "安装注册人数").number_format) == (62113, "#,##0")
    # 垣曲县 has no population: "—" on the page and in Excel alike, never a blank or a zero.
    yuanqu = next(r for r in page.context["table"].data if r["name"] == "垣曲县")
    assert yuanqu["rank"] is None
    for header in ("名次", "名次升降", "注册率", "较上期", "常住人口"):
        assert cell("垣曲县", header).value == m.DASH, header
    assert cell("垣曲县", "安装注册人数").value == 50000


def test_it_exports_field_rankings_with_formula_like_names_quoted(places, users, client):
    campaign = factories.make_campaign()
    org = factories.make_org(places.zhouzhuang, name="=HYPERLINK(1)")
    member = factories.make_member(places.zhouzhuang)
    member.organization = org
    member.save()
    household = factories.make_household(places.zhouzhuang)
    factories.make_assignment(household, member, campaign)
    factories.make_visit(
        household,
        visitor=member,
        campaign=campaign,
        met_person=True,
        explained=True,
        signed=True,
        fraud_types=[FraudType.objects.first()],
        visited_at=timezone.make_aware(dt.datetime(2021, 8, 1, 10)),
    )
    rebuild_summaries()
    client.force_login(users.county)
    url = f"/dashboard/rank/organization/{places.xinjiang.pk}/?date=2021-08-13&export=xlsx"
    sheet = open_book(client.get(url).content).active
    name = find_cell(sheet, "=HYPERLINK(1)")
    assert_quoted_text(name, "=HYPERLINK(1)")
    row = sheet[name.row]
    headers = [c.value for c in sheet[3]]
    assert percent_of(row[headers.index("党员参与率")]) == Decimal("100.00")


def test_it_exports_a_bulletin_with_numbers_and_a_quoted_title(two_reports, users, client):
    client.force_login(users.city)
    client.post("/dashboard/bulletins/issue/", {"date": "2021-08-11", "metric": "registration_rate"})
    client.post(
        "/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "registration_rate", "title": "=HYPERLINK(1)"}
    )
    bulletin = Bulletin.objects.get(as_of=AUG13)
    page = client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    response = client.get(f"/dashboard/bulletins/{bulletin.pk}/?export=xlsx")
    assert response["Content-Disposition"] == content_disposition_header(True, f"通报{bulletin.year}年第2期.xlsx")
    sheet = open_book(response.content).active
    assert_quoted_text(sheet["A1"], "=HYPERLINK(1)")
    headers = [c.value for c in sheet[3]]
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=4)}
    xinjiang, yuanqu = rows["新绛县"], rows["垣曲县"]
    assert xinjiang[0].value == 2 and percent_of(xinjiang[2]) == Decimal("22.01")
    assert percent_of(xinjiang[headers.index("注册率")]) == Decimal("22.01")
    assert xinjiang[headers.index("常住人口")].value == 282230
    assert xinjiang[headers.index("名次升降")].value == "持平" and "持平" in page
    assert yuanqu[0].value == m.DASH and yuanqu[headers.index("注册率")].value == m.DASH


# ---------------------------------------------------------------------------------------- dataio


def test_it_exports_registration_rates_from_the_metric_not_a_float(places):
    """1 ÷ 32 = 3.125%: half up is 3.13%, as the ranking shows; a float formatted it as 3.12%."""
    report(places.xinjiang, AUG13, 1, verified=1, population=32)
    assert next(r for r in ranking("county", as_of=AUG13).rows if r["name"] == "新绛县")["value"] == "3.13%"
    assert f"{1 / 32 * 100:.2f}" == "3.12"  # what the old export wrote


def test_it_writes_the_registrations_rates_as_percentage_cells(tmp_path, places):
    report(places.xinjiang, AUG13, 1, verified=1, population=32)
    path = tmp_path / "registrations.xlsx"
    export_file("registrations", path)
    sheet = open_book(path).active
    rate, verified_rate = column_cells(sheet, "注册率", 2)[0], column_cells(sheet, "实名率", 2)[0]
    assert percent_of(rate) == Decimal("3.13") == m.rate_percent(1, 32)
    assert percent_of(verified_rate) == Decimal("3.13")
    assert column_cells(sheet, "安装注册人数", 2)[0].value == 1


def test_it_exports_every_dataio_kind_with_formula_like_text_quoted_and_typed_cells(tmp_path, places):
    # Running today: the 责任分工表 export without a named campaign takes the running one (campaigns.rules).
    campaign = factories.make_running_campaign()
    household = factories.make_household(places.zhouzhuang, head_name="=HYPERLINK(1)", size=3)
    member = factories.make_member(places.zhouzhuang, name="＠SUM(A1)")
    factories.make_assignment(household, member, campaign)
    factories.make_visit(
        household,
        visitor=member,
        campaign=campaign,
        signed=True,
        notes="+86 来电",
        visited_at=timezone.make_aware(dt.datetime.combine(campaign.start_date, dt.time(9, 30))),
    )
    report(places.xinjiang, AUG13, 62113)
    books = {}
    for kind in ("responsibility", "households", "members", "registrations", "visits"):
        out = tmp_path / f"{kind}.xlsx"
        call_command("export_table", kind, "--county", "新绛县", "-o", str(out))
        assert has_no_formulas(out.read_bytes()), kind
        books[kind] = open_book(out)
    for kind, text in (
        ("responsibility", "=HYPERLINK(1)"),
        ("responsibility", "＠SUM(A1)"),
        ("households", "=HYPERLINK(1)"),
        ("members", "＠SUM(A1)"),
        ("visits", "=HYPERLINK(1)"),
        ("visits", "+86 来电"),
    ):
        assert_quoted_text(find_cell(books[kind].worksheets[0], text), text)
    sheet = books["responsibility"]["龙兴镇"]
    assert column_cells(sheet, "户编号", 2)[0].value == household.pk
    assert column_cells(sheet, "家庭人口", 2)[0].value == 3
    last = column_cells(sheet, "最近走访日期", 2)[0]
    assert last.value == dt.datetime.combine(campaign.start_date, dt.time()) and last.number_format == "yyyy-mm-dd"
    assert column_cells(sheet, "已签承诺书", 2)[0].value == "是"
    visits = books["visits"].active
    when = column_cells(visits, "走访时间", 2)[0]
    assert (
        when.value == dt.datetime.combine(campaign.start_date, dt.time(9, 30))
        and when.number_format == "yyyy-mm-dd hh:mm"
    )


def test_it_writes_the_error_list_with_numbers_and_quoted_text():
    job = ImportJob(
        kind="households",
        file_name="=evil.xlsx",
        errors=[{"sheet": "=1+1", "row": 4, "column": "@列", "message": "-2 不是人数"}],
    )
    data = errors_workbook(job)
    assert has_no_formulas(data)
    sheet = open_book(data).active
    assert_quoted_text(sheet["A1"], "=evil.xlsx 导入错误（没有写入任何数据）")
    assert [c.value for c in sheet[2]] == ["工作表", "行号", "列", "错误说明"]
    assert_quoted_text(sheet["A3"], "=1+1")
    assert (sheet["B3"].value, sheet["B3"].data_type) == (4, "n")
    assert_quoted_text(sheet["C3"], "@列")
    assert_quoted_text(sheet["D3"], "-2 不是人数")


def test_it_serves_the_import_template_with_title_and_header(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("admin:dataio_importjob_template", args=["households"]))
    assert response["Content-Disposition"] == content_disposition_header(True, "住户花名册_模板.xlsx")
    sheet = open_book(response.content).active
    assert sheet["A1"].value == "住户花名册" and sheet["A2"].font.b
    assert "户主姓名" in [c.value for c in sheet[2]] and sheet.max_row == 2


def test_it_keeps_the_api_export_typed_as_the_sheet(places, superuser):
    household = factories.make_household(places.zhouzhuang, head_name="=HYPERLINK(1)")
    data = HouseholdResource(user=superuser, county="新绛县").export()
    assert data.dict[0]["户编号"] == household.pk and data.dict[0]["户主姓名"] == "=HYPERLINK(1)"


# ------------------------------------------------------------------------------------- user export


def _user_export(client, users, title):
    user_admin = admin.site._registry[User]
    formats = user_admin.get_export_formats()
    fmt = next(i for i, f in enumerate(formats) if f().get_title() == title)
    client.force_login(users.county)
    fields = {f"userresource_{name}": "on" for name in ("username", "name", "phone", "role", "county", "town")}
    response = client.post(reverse("admin:accounts_user_export"), {"format": fmt, "resource": "0", **fields})
    assert response.status_code == 200
    return response.content


def test_it_exports_users_as_xlsx_with_quote_prefix_and_as_csv_with_an_apostrophe(places, users, client):
    factories.make_user(Role.GRID, username="=HYPERLINK(1)", county=places.xinjiang, town=places.longxing)
    data = _user_export(client, users, "xlsx")
    assert has_no_formulas(data)
    assert_quoted_text(find_cell(open_book(data).active, "=HYPERLINK(1)"), "=HYPERLINK(1)")
    # CSV has no styles: there the apostrophe is the only guard (OWASP).
    text = _user_export(client, users, "csv").decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text and not text.startswith("=")


def test_it_builds_the_benchmark_sheet_in_the_clerks_layout(tmp_path, places):
    from outreach.dataio import bench
    from outreach.dataio.services import import_file

    path = bench.build_responsibility_xlsx(tmp_path / "bench.xlsx", rows=25)
    book = open_book(path)
    sheet = book.worksheets[0]
    assert "责任分工表" in sheet["A1"].value and sheet["A2"].value.startswith("填报单位")
    assert sheet["A3"].value == "序号" and not sheet["A3"].font.b  # the clerks' header, not ours
    bench.ensure_campaign()
    report_ = import_file("responsibility", path)
    assert not report_.errors, report_.errors[:3]
    assert report_.new == 25


def test_it_writes_a_change_that_rounds_to_zero_with_its_sign_on_the_page():
    rate = m.get_metric("registration_rate")
    assert m.delta_value(rate, Fraction(1, 10**7), Fraction(2, 10**7)) == 0
    assert m.format_delta(rate, Fraction(1, 10**7), Fraction(2, 10**7)) == "-0.00"
    assert m.delta_value(rate, Fraction(1, 4), Fraction(1, 5)) == Decimal("5.00")
    assert m.delta_value(m.get_metric("app_registered"), 120, 100) == 20
    assert m.rate_percent(1, 32) == Decimal("3.13") and m.rate_percent(1, 0) is None
