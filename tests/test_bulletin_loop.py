"""The daily loop's 通报: 拟稿 → 预览 → 签发, never empty, and the Word file in 公文 format."""

import datetime as dt
import io
import shutil
import subprocess

import pytest
from django.utils import timezone
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Emu, Pt

from outreach.dashboards import bulletins
from outreach.dashboards.docx import table_columns
from outreach.dashboards.models import Bulletin
from outreach.dashboards.services import rebuild_summaries
from outreach.lib import metrics as m
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from tests.factories import make_campaign, make_household

pytestmark = pytest.mark.django_db

AUG13 = dt.date(2021, 8, 13)


def reports_for_all(day=AUG13):
    """One report per county with a population, 运城's counties best first in code order."""
    names = []
    for i, county in enumerate(County.objects.exclude(population__isnull=True).order_by("code")):
        RegistrationReport.objects.create(
            county=county, as_of=day, registered=county.population * (40 - i) // 100, verified=1000
        )
        names.append(county.name)
    return names


def test_it_defaults_a_town_draft_to_a_metric_with_data(places, users, client):
    make_campaign()
    make_household(places.zhouzhuang)
    rebuild_summaries()
    assert bulletins.default_metric("town", places.xinjiang, AUG13).key == "visit_rate"
    client.force_login(users.county)
    page = client.get(f"/dashboard/bulletins/draft/?county={places.xinjiang.pk}&date=2021-08-13").content.decode()
    assert '<option value="visit_rate" selected>入户率</option>' in page
    assert "龙兴镇" in page and "0.00%" in page and "签发</button>" in page
    assert not Bulletin.objects.exists()  # a draft takes no number and freezes nothing


def test_it_never_issues_an_empty_bulletin(places, users, client):
    client.force_login(users.city)
    # No App figures that day: the 注册率 of every county is "—".
    with pytest.raises(bulletins.EmptyBulletin, match="没有一个单位有“注册率”的数字，不能签发空白通报"):
        bulletins.issue_bulletin(as_of=AUG13, metric="registration_rate", user=users.city)
    page = client.get("/dashboard/bulletins/draft/?date=2021-08-13&metric=registration_rate").content.decode()
    assert "不能签发空白通报" in page and "签发</button>" not in page
    response = client.post("/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "registration_rate"})
    assert response.status_code == 302 and "/dashboard/bulletins/draft/" in response["Location"]
    assert "不能签发空白通报" in client.get(response["Location"]).content.decode()
    assert not Bulletin.objects.exists()
    reports_for_all()
    assert bulletins.issue_bulletin(as_of=AUG13, metric="registration_rate", user=users.city).number == 1


def test_it_freezes_exactly_the_previewed_draft(places, users, client):
    names = reports_for_all()
    client.force_login(users.city)
    query = "date=2021-08-13&metric=registration_rate&main_recipients=各县委政法委&copy_to=市委办&note=请各县对照整改。"
    preview = client.get(f"/dashboard/bulletins/draft/?{query}").content.decode()
    assert "各县委政法委：" in preview and "抄送：市委办。" in preview and "请各县对照整改。" in preview
    draft = bulletins.draft_bulletin(
        as_of=AUG13,
        metric="registration_rate",
        main_recipients="各县委政法委",
        copy_to="市委办",
        note="请各县对照整改。",
    )
    assert f'name="digest" value="{draft.digest()}"' in preview
    form = {
        "date": "2021-08-13",
        "metric": "registration_rate",
        "main_recipients": "各县委政法委",
        "copy_to": "市委办",
        "note": "请各县对照整改。",
        "title": draft.title,
        "issuer": draft.issuer,
    }
    # The figures change after the preview: the signature is refused and the new preview shown.
    RegistrationReport.objects.filter(county__name=names[0]).update(registered=1000)
    response = client.post("/dashboard/bulletins/issue/", form | {"digest": draft.digest()})
    assert not Bulletin.objects.exists()
    assert "预览之后数据或内容有变化" in client.get(response["Location"]).content.decode()
    fresh = bulletins.draft_bulletin(
        as_of=AUG13,
        metric="registration_rate",
        main_recipients="各县委政法委",
        copy_to="市委办",
        note="请各县对照整改。",
    )
    response = client.post("/dashboard/bulletins/issue/", form | {"digest": fresh.digest()})
    bulletin = Bulletin.objects.get()
    assert response["Location"] == f"/dashboard/bulletins/{bulletin.pk}/"
    assert (bulletin.main_recipients, bulletin.copy_to, bulletin.note) == ("各县委政法委", "市委办", "请各县对照整改。")
    assert [line.name for line in bulletin.lines.order_by("position")] == [line["name"] for line in fresh.lines]
    frozen = bulletins.frozen_draft(bulletin)
    assert frozen.lines == fresh.lines and frozen.title == fresh.title


def _docx_of(client, bulletin) -> Document:
    response = client.get(f"/dashboard/bulletins/{bulletin.pk}/?export=docx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    return response.content


def test_it_writes_the_bulletin_as_a_gongwen_word_file(places, users, client):
    reports_for_all()
    bulletin = bulletins.issue_bulletin(as_of=AUG13, metric="registration_rate", user=users.city, copy_to="市委办")
    client.force_login(users.county)
    doc = Document(io.BytesIO(_docx_of(client, bulletin)))
    section = doc.sections[0]

    def mm(length):  # Word stores twips: compare to a tenth of a millimetre
        return round(Emu(length).mm, 1)

    assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
    assert (mm(section.top_margin), mm(section.left_margin)) == (37, 28)
    assert mm(section.page_width - section.left_margin - section.right_margin) == 156
    assert mm(section.page_height - section.top_margin - section.bottom_margin) == 225
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars" and grid.get(qn("w:linePitch")) == "579"

    texts = [p.text for p in doc.paragraphs]
    issued = timezone.localtime(bulletin.issued_at)  # the 成文日期 is the day in Asia/Shanghai
    assert texts[0] == "运城市委政法委" and texts[1] == "2021年第1期"
    issuer_run = doc.paragraphs[0].runs[0]
    assert str(issuer_run.font.color.rgb) == "FF0000"
    title = next(p for p in doc.paragraphs if p.text == bulletin.title)
    assert title.runs[0].font.size == Pt(22)
    assert title.runs[0]._r.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    normal = doc.styles["Normal"]
    assert normal.font.size == Pt(16) and normal.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert "各县（市、区）委政法委：" in texts and "抄送：市委办。" in texts
    assert "一、红榜（前三名）" in texts and "二、黑榜（后三名）" in texts and "四、督办" in texts
    assert texts[-4:-2] == [
        "运城市委政法委",
        f"{issued:%Y}年{issued.month}月{issued.day}日",
    ]

    # The ranking table: one row per bulletin line, the same figures.
    table = doc.tables[0]
    metric = m.get_metric("registration_rate")
    assert [c.text for c in table.rows[0].cells] == table_columns(metric)
    lines = list(bulletin.lines.order_by("position"))
    assert len(table.rows) == len(lines) + 1
    for row, line in zip(table.rows[1:], lines, strict=True):
        cells = [c.text for c in row.cells]
        assert cells[0] == (str(line.rank) if line.rank else "—")
        assert cells[1] == line.name
        registered = line.figures["registered"]
        assert cells[2] == (f"{registered:,}" if registered is not None else "—")
        assert cells[4] == metric.display(line.figures)

    # Page numbers "— 1 —" from a PAGE field, on odd and even pages.
    for footer in (section.footer, section.even_page_footer):
        xml = footer._element.xml
        assert (
            " PAGE " in xml and footer.paragraphs[0].text.startswith("— ") and footer.paragraphs[0].text.endswith(" —")
        )
    fonts = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable")).blob.decode()
    assert 'w:name="方正小标宋简体"' in fonts and '<w:altName w:val="宋体"/>' in fonts


def test_it_offers_a_drafts_word_file_without_a_number(places, users, client):
    reports_for_all()
    client.force_login(users.city)
    response = client.get("/dashboard/bulletins/draft/?date=2021-08-13&metric=registration_rate&export=docx")
    doc = Document(io.BytesIO(response.content))
    assert doc.paragraphs[1].text == "2021年第1期（草稿，签发时编号）"
    assert not Bulletin.objects.exists()


@pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="没有 LibreOffice（soffice）或 pdftotext：make office-deps 安装 libreoffice-writer-nogui 和 poppler-utils",
)
def test_it_opens_in_libreoffice_with_the_title_on_page_one(places, users, client, tmp_path):
    reports_for_all()
    bulletin = bulletins.issue_bulletin(as_of=AUG13, metric="registration_rate", user=users.city)
    client.force_login(users.city)
    source = tmp_path / "通报.docx"
    source.write_bytes(_docx_of(client, bulletin))
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "通报.pdf"
    page_one = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = "".join(page_one.split())
    assert "".join(bulletin.title.split()) in flat
    assert "运城市委政法委" in flat and "2021年第1期" in flat
    assert "—1—" in flat  # the PAGE field rendered in the footer
