"""督办 pages: the list (scoped, filtered, exported), 我的督办 and its count, each step through its form
(POST, CSRF, resend-safe, refused with a Chinese message), attachments (checked, scoped, logged), a reply after
the deadline (taken, marked 逾期回复) and a 督办单 opened by hand from a ranking row or a bulletin line."""

import datetime as dt
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.accounts.models import AccessLog
from outreach.dashboards import bulletins, supervision
from outreach.dashboards.models import SupervisionOrder, SupervisionStep
from outreach.registrations.models import RegistrationReport
from tests.xlsx_checks import open_book

pytestmark = pytest.mark.django_db
State = SupervisionOrder.State
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def open_town_order(places, **fields):
    """A 督办单 for 龙兴镇 (answered by users.town, judged by users.county)."""
    return supervision.open_order(code=places.longxing.code, reason="manual", reason_text="入户率排名末位", **fields)


def detail(order):
    return reverse("dashboards:supervision_detail", args=[order.pk])


def move_url(order):
    return reverse("dashboards:supervision_move", args=[order.pk])


def last_step(order):
    return order.steps.order_by("-pk").first().pk


def post_step(client, order, to, text="", seen=None, **extra):
    data = {"to": to, "text": text, "seen_step": last_step(order) if seen is None else seen, **extra}
    return client.post(move_url(order), data, follow=True)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_it_lists_only_orders_in_scope_with_filters(places, users, client):
    town = open_town_order(places)
    village = supervision.open_order(code=places.zhouzhuang.code, reason="manual", reason_text="周庄村")
    county = supervision.open_order(code=places.xinjiang.code, reason="manual", reason_text="新绛县")
    jishan = supervision.open_order(code=places.jishan.code, reason="manual", reason_text="稷山县")
    SupervisionOrder.objects.filter(pk=village.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    url = reverse("dashboards:supervision_list")

    def listed(user, query=""):
        client.force_login(user)
        response = client.get(url + query)
        assert response.status_code == 200
        return sorted(row.record.unit_name for row in response.context["table"].page.object_list)

    assert listed(users.city) == sorted(o.unit_name for o in (town, village, county, jishan))
    assert listed(users.county) == sorted(o.unit_name for o in (town, village, county))
    assert listed(users.town) == sorted([town.unit_name, village.unit_name])
    assert listed(users.other_town) == []
    assert listed(users.city, "?overdue=on") == [village.unit_name]
    assert listed(users.city, "?level=county") == sorted([county.unit_name, jishan.unit_name])
    assert listed(users.city, "?level=village") == [village.unit_name]
    supervision.move(county, State.SIGNED, users.county)
    assert listed(users.city, "?state=signed") == [county.unit_name]
    assert len(listed(users.city, "?state=nonsense&level=nonsense")) == 4  # a wrong filter is not applied
    page = client.get(url + "?overdue=on").content.decode()
    assert "逾期" in page
    # Outside the area: the same 404 as a missing order; without the permission: 403.
    client.force_login(users.county)
    assert client.get(detail(jishan)).status_code == 404
    assert client.get(detail(town)).status_code == 200
    client.force_login(users.grid)
    assert client.get(url).status_code == 403
    assert client.get(detail(village)).status_code == 403


def test_it_walks_an_order_through_its_forms_with_an_attachment(places, users, client):
    order = open_town_order(places)
    client.force_login(users.town)
    page = client.get(detail(order)).content.decode()
    assert 'id="sign-form"' in page and 'id="reply-form"' not in page
    response = post_step(client, order, "signed")
    assert response.redirect_chain[-1][0] == detail(order)
    assert messages_of(response) == ["已签收"]
    assert 'id="reply-form"' in response.content.decode()
    upload = SimpleUploadedFile("整改方案.pdf", PDF, content_type="application/pdf")
    response = post_step(client, order, "replied", "逐村排查未走访户，三日内补访。", attachment=upload)
    assert messages_of(response) == ["已回复整改措施"]
    step = order.steps.get(state=State.REPLIED)
    assert step.attachment.name.endswith(".pdf") and not step.late
    page = response.content.decode()
    assert "逐村排查未走访户" in page and "整改方案" in page
    assert 'id="close-form"' not in page  # the unit never closes its own order

    # The attachment: downloaded inside the area (logged), 404 outside, 403 without the permission.
    url = reverse("dashboards:supervision_attachment", args=[step.pk])
    download = client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert "attachment" in download["Content-Disposition"]
    log = AccessLog.objects.get(subject="督办附件")
    assert (log.user, log.kind, log.rows) == (users.town, AccessLog.Kind.EXPORT, 1)
    client.force_login(users.other_town)
    assert client.get(url).status_code == 404
    client.force_login(users.member)
    assert client.get(url).status_code == 403
    assert AccessLog.objects.filter(subject="督办附件").count() == 1

    # The issuer (the county) returns with a reason, the unit answers again, the issuer closes.
    client.force_login(users.county)
    page = client.get(detail(order)).content.decode()
    assert 'id="close-form"' in page and 'id="return-form"' in page
    response = post_step(client, order, "returned", "措施不具体，请列出责任人。")
    assert messages_of(response) == ["已退回，待被督办单位重新回复"]
    client.force_login(users.town)
    post_step(client, order, "replied", "各村责任人见附件。")
    client.force_login(users.county)
    response = post_step(client, order, "closed")
    assert messages_of(response) == ["已办结"]
    order.refresh_from_db()
    assert order.state == State.CLOSED
    assert [s.state for s in order.steps.order_by("pk")] == [
        "waiting",
        "signed",
        "replied",
        "returned",
        "replied",
        "closed",
    ]
    page = response.content.decode()
    assert "措施不具体，请列出责任人。" in page and 'id="close-form"' not in page


def test_it_never_doubles_a_resent_form(places, users, client, settings):
    order = open_town_order(places)
    client.force_login(users.town)
    seen = last_step(order)
    post_step(client, order, "signed", seen=seen)
    response = post_step(client, order, "signed", seen=seen)  # the same form sent again
    assert messages_of(response) == ["已签收（此前已提交，未重复记录）"]
    seen = last_step(order)
    upload = SimpleUploadedFile("方案.pdf", PDF)
    post_step(client, order, "replied", "补访。", seen=seen, attachment=upload)
    again = SimpleUploadedFile("方案.pdf", PDF)
    response = post_step(client, order, "replied", "补访。", seen=seen, attachment=again)
    assert "未重复记录" in messages_of(response)[0]
    assert order.steps.filter(state=State.SIGNED).count() == 1
    assert order.steps.filter(state=State.REPLIED).count() == 1
    assert len([f for f in (settings.MEDIA_ROOT / "supervision").rglob("*") if f.is_file()]) == 1  # one file kept
    # A form from a page opened before someone else's step is refused, not applied on top.
    client.force_login(users.county)
    response = post_step(client, order, "returned", "重报。", seen=seen)
    assert messages_of(response) == ["督办单在您打开页面后已有新的办理记录（现为“已回复”），请查看后再操作"]
    assert not order.steps.filter(state=State.RETURNED).exists()


def test_it_refuses_wrong_moves_with_chinese_messages(places, users, client):
    order = open_town_order(places)
    client.force_login(users.town)
    response = post_step(client, order, "replied", "未签收先回复。")
    assert messages_of(response) == ["督办单当前为“待签收”，不能已回复"]
    client.force_login(users.other_town)  # same county, another town: outside its area
    assert client.post(move_url(order), {"to": "signed"}).status_code == 404
    client.force_login(users.county)  # the issuer may not sign for the unit
    response = post_step(client, order, "signed")
    assert messages_of(response) == ["只有被督办单位可以签收和回复，只有督办单位可以办结或退回"]
    client.force_login(users.town)
    post_step(client, order, "signed")
    response = post_step(client, order, "replied", "   ")
    assert messages_of(response) == ["回复须写明整改措施"]
    response = post_step(client, order, "closed")
    assert messages_of(response) == ["督办单当前为“已签收”，不能已办结"]
    response = client.post(move_url(order), {"to": "deleted", "seen_step": last_step(order)})
    assert response.status_code == 400 and "没有这个办理步骤" in response.content.decode()
    client.force_login(users.grid)
    assert client.post(move_url(order), {"to": "signed"}).status_code == 403
    assert order.steps.count() == 2


def test_it_takes_post_only_with_a_csrf_token(places, users):
    order = open_town_order(places)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.town)
    assert client.get(move_url(order)).status_code == 405
    assert client.post(move_url(order), {"to": "signed", "seen_step": last_step(order)}).status_code == 403
    page = client.get(detail(order))
    token = page.cookies["csrftoken"].value
    response = client.post(
        move_url(order), {"to": "signed", "seen_step": last_step(order), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert order.steps.filter(state=State.SIGNED).count() == 1


def _docx_with_doctype():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Types/>')
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("病毒.exe", b"MZ\x90\x00", "附件只能是PDF、Word（.doc、.docx）、Excel（.xls、.xlsx）或 JPG、PNG 图片"),
        (
            "改名.pdf",
            b"just text, not a pdf",
            "附件的内容不是 .pdf 文件（可能已损坏，或是改了扩展名的其他文件），已拒绝",
        ),
        ("空.pdf", b"", "附件是空的"),
        ("大.pdf", PDF + b"0" * (1024 * 1024), "附件太大（1.0 MB），最大 1 MB"),
        ("坏.docx", b"PK\x03\x04garbage", "文件不是有效的 .docx 文件（可能已损坏，或是改了扩展名的其他文件）"),
        ("实体.docx", _docx_with_doctype(), "文件含有不安全的 XML 内容（DOCTYPE/ENTITY），已拒绝"),
    ],
)
def test_it_refuses_bad_attachments_and_keeps_the_text(name, body, message, places, users, client, settings):
    settings.SUPERVISION_MAX_ATTACHMENT_MB = 1
    order = open_town_order(places)
    supervision.move(order, State.SIGNED, users.town)
    client.force_login(users.town)
    upload = SimpleUploadedFile(name, body)
    response = client.post(
        move_url(order),
        {"to": "replied", "text": "整改措施原文", "seen_step": last_step(order), "attachment": upload},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and "整改措施原文" in page  # the typed reply is not lost
    assert not order.steps.filter(state=State.REPLIED).exists()
    assert not (settings.MEDIA_ROOT / "supervision").exists()


def test_it_takes_a_reply_after_the_deadline_and_marks_it_late(places, users, client):
    order = open_town_order(places, deadline=timezone.localdate())
    SupervisionOrder.objects.filter(pk=order.pk).update(deadline=timezone.localdate() - dt.timedelta(days=2))
    client.force_login(users.town)
    page = client.get(detail(order)).content.decode()
    assert '<span class="overdue">逾期</span>' in page
    post_step(client, order, "signed")  # signing late is allowed too
    page = client.get(detail(order)).content.decode()
    assert "已过整改期限" in page and "回复将记为“逾期回复”" in page
    response = post_step(client, order, "replied", "已补访。")
    assert messages_of(response) == ["已回复整改措施（已过整改期限，记为逾期回复）"]
    assert order.steps.get(state=State.REPLIED).late
    page = response.content.decode()
    assert "逾期回复" in page and '<span class="overdue">逾期</span></p>' not in page  # answered: no longer 逾期


def test_it_counts_my_orders_in_the_header_with_one_query(places, users, client):
    open_town_order(places)
    supervision.open_order(code=places.zhouzhuang.code, reason="manual", reason_text="周庄村")
    supervision.open_order(code=places.sanquan.code, reason="manual", reason_text="三泉镇")
    client.force_login(users.town)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("dashboards:bulletin_list")).content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "dashboards_supervisionorder" in q["sql"]]
    assert len(counts) == 1 and "COUNT(" in counts[0].upper()
    assert '我的督办 <span class="badge" title="待您办理的督办单">2</span>' in page
    mine = client.get(reverse("dashboards:supervision_mine"))
    assert sorted(r.record.unit_name for r in mine.context["table"].page.object_list) == ["周庄村委会", "龙兴镇"]
    # The county judges replies of its towns: a reply from 龙兴镇 waits for it.
    order = SupervisionOrder.objects.get(town=places.longxing, village__isnull=True)
    supervision.move(order, State.SIGNED, users.town)
    supervision.move(order, State.REPLIED, users.town, "已整改。")
    assert supervision.awaiting_count(users.town) == 1
    assert supervision.awaiting_count(users.county) == 1
    client.force_login(users.county)
    assert (
        '<span class="badge" title="待您办理的督办单">1</span>' in client.get("/dashboard/bulletins/").content.decode()
    )
    client.force_login(users.grid)
    assert "我的督办" not in client.get("/dashboard/bulletins/").content.decode()


def test_it_exports_the_filtered_list_and_logs_it(places, users, client):
    order = open_town_order(places)
    supervision.move(order, State.SIGNED, users.town)
    supervision.move(order, State.REPLIED, users.town, "=1+1 逐村补访")
    supervision.open_order(code=places.sanquan.code, reason="manual", reason_text="三泉镇")
    supervision.open_order(code=places.jishan.code, reason="manual", reason_text="稷山县")
    client.force_login(users.county)
    response = client.get(reverse("dashboards:supervision_list") + "?state=replied&export=xlsx")
    assert response.status_code == 200
    sheet = open_book(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "督办单" and "筛选：已回复" in rows[1][0]
    header = rows[2]
    assert header[:4] == ("编号", "督办单位", "层级", "县（市、区）")
    (row,) = rows[3:]
    values = dict(zip(header, row, strict=True))
    assert values["督办单位"] == "龙兴镇" and values["状态"] == "已回复" and values["逾期"] == "否"
    assert values["整改措施（最近回复）"] == "=1+1 逐村补访"  # text, never a formula
    assert isinstance(values["整改期限"], dt.datetime) and values["编号"] == order.pk
    log = AccessLog.objects.get(subject="督办单")
    assert (log.user, log.kind, log.rows) == (users.county, AccessLog.Kind.EXPORT, 1)
    # The county's export never carries another county's orders.
    everything = client.get(reverse("dashboards:supervision_list") + "?export=xlsx")
    units = [r[1] for r in list(open_book(io.BytesIO(everything.content)).active.iter_rows(values_only=True))[3:]]
    assert sorted(units) == ["三泉镇", "龙兴镇"]


def test_it_opens_an_order_by_hand_from_a_ranking_row(places, users, client):
    day = dt.date(2021, 8, 13)
    RegistrationReport.objects.create(county=places.xinjiang, as_of=day, registered=62113, verified=49213)
    town_ranking = reverse("dashboards:ranking", args=["town", places.xinjiang.pk]) + "?date=2021-08-13"
    # The issuer level sees the column: the county for its towns, the city for counties; the town never.
    client.force_login(users.town)
    assert "督办" not in [c.header for c in client.get(town_ranking).context["table"].columns]
    client.force_login(users.city)
    county_page = client.get("/dashboard/rank/county/?date=2021-08-13")
    assert "督办" in [str(c.header) for c in county_page.context["table"].columns]
    client.force_login(users.county)
    assert "督办" not in [str(c.header) for c in client.get("/dashboard/rank/county/").context["table"].columns]
    page = client.get(town_ranking)
    assert "督办" in [str(c.header) for c in page.context["table"].columns]
    html = page.content.decode()
    open_url = reverse("dashboards:supervision_open")
    assert f'href="{open_url}?code={places.longxing.code}' in html
    # The Excel of the page carries no action column.
    book = open_book(io.BytesIO(client.get(town_ranking + "&export=xlsx").content))
    assert "督办" not in [c.value for c in list(book.active.iter_rows(min_row=3, max_row=3))[0]]

    form = client.get(open_url, {"code": places.longxing.code, "why": "2021-08-13 入户率第9名"})
    assert form.status_code == 200 and "2021-08-13 入户率第9名" in form.content.decode()
    deadline = timezone.localdate() + dt.timedelta(days=5)
    data = {"code": places.longxing.code, "reason_text": "入户率连续落后", "deadline": f"{deadline:%Y-%m-%d}"}
    response = client.post(open_url, data, follow=True)
    order = SupervisionOrder.objects.get()
    assert response.redirect_chain[-1][0] == detail(order)
    assert (order.reason, order.deadline, order.created_by, order.assignee) == (
        "manual",
        deadline,
        users.county,
        users.town,
    )
    assert messages_of(response) == [f"已对龙兴镇发出督办单，整改期限{deadline:%Y-%m-%d}"]
    resent = client.post(open_url, data, follow=True)  # the same form again: no second order
    assert SupervisionOrder.objects.count() == 1 and resent.redirect_chain[-1][0] == detail(order)
    assert messages_of(resent) == ["龙兴镇已有未办结的督办单（待签收），不再重复发出"]
    assert f'href="{detail(order)}"' in client.get(town_ranking).content.decode()  # the row now leads to it
    # Bad input and the wrong people.
    past = client.post(open_url, {**data, "code": places.sanquan.code, "deadline": "2020-01-01"})
    assert past.status_code == 200 and "整改期限不能早于今天" in past.content.decode()
    assert client.post(open_url, {**data, "code": places.jishan_town.code}).status_code == 404
    assert client.post(open_url, {**data, "code": places.xinjiang.code}).status_code == 403  # its own county
    client.force_login(users.town)
    assert client.post(open_url, {**data, "code": places.zhouzhuang.code}).status_code == 403
    assert SupervisionOrder.objects.count() == 1


def test_it_opens_an_order_by_hand_from_a_bulletin_line(places, users, client):
    day = dt.date(2021, 8, 13)
    RegistrationReport.objects.create(county=places.xinjiang, as_of=day, registered=62113, verified=49213)
    RegistrationReport.objects.create(county=places.jishan, as_of=day, registered=80000, verified=60000)
    bulletin = bulletins.issue_bulletin(as_of=day, metric="registration_rate", user=users.city)
    client.force_login(users.county)
    assert "人工督办" not in client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    client.force_login(users.city)
    page = client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    assert "人工督办" in page
    open_url = reverse("dashboards:supervision_open")
    form = client.get(open_url, {"code": places.xinjiang.code, "bulletin": bulletin.pk})
    assert f"{bulletin.label}通报（{bulletin.title}）中排名第2名" in form.content.decode()
    deadline = timezone.localdate() + dt.timedelta(days=3)
    client.post(
        open_url,
        {"code": places.xinjiang.code, "bulletin": bulletin.pk, "reason_text": "排名第2名", "deadline": deadline},
    )
    order = SupervisionOrder.objects.get()
    assert (order.bulletin, order.county, order.town, order.assignee) == (bulletin, places.xinjiang, None, users.county)
    assert "督办中" in client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    # A line the bulletin does not have is no line to open from.
    assert client.get(open_url, {"code": places.longxing.code, "bulletin": bulletin.pk}).status_code == 404
    # The county's own order reaches its 县级管理员's 我的督办.
    assert supervision.awaiting_count(users.county) == 1
    assert SupervisionStep.objects.filter(order=order, state=State.WAITING, actor=users.city).exists()


def test_it_lists_orders_with_queries_that_do_not_grow_with_rows(places, users, client, django_assert_max_num_queries):
    def add(n):
        for _ in range(n):
            order = open_town_order(places, user=users.county)
            supervision.move(order, State.SIGNED, users.town)
            supervision.move(order, State.REPLIED, users.town, "整改。")  # waiting for the county to judge

    client.force_login(users.county)
    add(2)
    for name in ("supervision_list", "supervision_mine"):
        with CaptureQueriesContext(connection) as few:
            assert client.get(reverse(f"dashboards:{name}")).status_code == 200
        add(10)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert client.get(reverse(f"dashboards:{name}")).status_code == 200


def test_it_opens_no_streak_order_for_a_unit_already_under_a_manual_one(places, users, settings):
    from outreach.places.models import County

    settings.DASHBOARD_BOTTOM_STREAK = 1
    counties = list(County.objects.exclude(population__isnull=True).order_by("code"))
    day = dt.date(2021, 8, 1)
    for i, county in enumerate(counties):
        RegistrationReport.objects.create(
            county=county, as_of=day, registered=county.population * (40 - i) // 100, verified=1000
        )
    manual = supervision.open_by_hand(
        users.city, code=counties[-1].code, reason_text="人工", deadline=timezone.localdate() + dt.timedelta(days=1)
    )
    bulletin = bulletins.issue_bulletin(as_of=day, metric="registration_rate", user=users.city)
    assert list(SupervisionOrder.objects.filter(county=counties[-1])) == [manual]
    assert SupervisionOrder.objects.filter(bulletin=bulletin).count() == 2  # the other two of the last three
