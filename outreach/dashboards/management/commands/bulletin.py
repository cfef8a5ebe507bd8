import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils.dateparse import parse_date

from outreach.accounts.models import AccessLog, User
from outreach.accounts.services import record_access
from outreach.campaigns.models import Campaign
from outreach.dashboards import bulletins
from outreach.dashboards.docx import bulletin_docx
from outreach.dashboards.queries import default_as_of
from outreach.dashboards.services import ensure_fresh_summaries
from outreach.dashboards.supervision import streak_threshold
from outreach.lib import metrics as m
from outreach.places.models import County

TEXT_FIELDS = ("title", "issuer", "main_recipients", "copy_to", "note")


class Command(BaseCommand):
    help = (
        "在命令行拟稿或签发通报，与页面上的“拟稿 → 预览 → 签发”走同一套代码：--level county（全市各县）或 town"
        "（--parent 指定县，如 新绛县）；--date YYYY-MM-DD（默认最近一次通报日期）；--metric 指标名称或代码（默认按层级："
        "县为注册率、乡镇为入户率，当天没有数字时取第一个有数字的指标）；--campaign 活动名称（默认按活动规则）；"
        "--title/--issuer/--main-recipients/--copy-to/--note 改通报文字。默认只拟稿：不编号、不写入任何通报；"
        "--issue 签发（编号、固定，连续排名后三达到期数的单位自动开督办单，并推送到已设置的工作群）。"
        "--docx 文件名 写出 Word 公文；--json 输出期号、排名行和开出的督办单；--user 用户名 按该用户的签发权限执行并记为签发人。"
        "当天没有一个单位有该指标的数字时不拟稿、不签发，以退出码 1 和中文原因结束。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--level", default="county", choices=["county", "town"])
        parser.add_argument("--parent", default="", help="乡镇排名的县（市、区）：名称或区划代码")
        parser.add_argument("--date", default="")
        parser.add_argument("--metric", default="")
        parser.add_argument("--campaign", default="")
        for name in TEXT_FIELDS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None)
        parser.add_argument("--docx", default="", help="写出 Word 公文（.docx）的路径")
        parser.add_argument("--issue", action="store_true", help="签发（默认只拟稿）")
        parser.add_argument("--user", default="", help="签发人的用户名")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        level = options["level"]
        parent = None
        if level == "town":
            if not options["parent"]:
                raise CommandError("乡镇（街道）排名的通报须用 --parent 指定县（市、区），如 --parent 新绛县")
            parent = County.objects.filter(Q(name=options["parent"]) | Q(code=options["parent"])).first()
            if parent is None:
                raise CommandError(f"没有这个县（市、区）：{options['parent']}")
        elif options["parent"]:
            raise CommandError("全市各县（市、区）的通报不用 --parent；乡镇排名请加 --level town")
        as_of = default_as_of()
        if options["date"]:
            try:
                as_of = parse_date(options["date"])
            except ValueError:  # well formed but no such day (2021-02-30)
                as_of = None
            if as_of is None:
                raise CommandError(f"日期格式应为 YYYY-MM-DD：{options['date']}")
        campaign = None
        if options["campaign"]:
            campaign = Campaign.objects.filter(name=options["campaign"]).first()
            if campaign is None:
                raise CommandError(f"没有名为“{options['campaign']}”的活动")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"没有这个（启用的）用户：{options['user']}")
            if not bulletins.may_issue(user, parent):
                raise CommandError(f"{user.username} 没有拟稿、签发该通报的权限")
        # The level's default metric is the first with figures that day: read after the stale villages are
        # rebuilt, as the draft itself is.
        ensure_fresh_summaries(grace_seconds=0, wait=True)
        try:
            metric = (
                m.get_metric(options["metric"]).key
                if options["metric"]
                else bulletins.default_metric(level, parent, as_of, campaign).key
            )
        except KeyError as exc:
            raise CommandError(exc.args[0]) from exc
        fields = {"as_of": as_of, "metric": metric, "level": level, "parent_county": parent, "campaign": campaign}
        fields |= {name: options[name] for name in TEXT_FIELDS if options[name] is not None}

        if options["issue"]:
            try:
                bulletin = bulletins.issue_bulletin(user=user, **fields)
            except bulletins.EmptyBulletin as exc:
                raise CommandError(str(exc)) from exc
            draft = bulletins.frozen_draft(bulletin)
            opened = list(bulletin.orders.order_by("pk"))
        else:
            draft = bulletins.draft_bulletin(**fields)
            if draft.empty_reason:
                raise CommandError(draft.empty_reason)
            opened = []
        shown = bulletins.present(draft, streak_threshold())

        docx_path = ""
        if options["docx"]:
            path = Path(options["docx"])
            try:
                path.write_bytes(bulletin_docx(shown))
            except OSError as exc:
                raise CommandError(f"不能写入 {path}：{exc.strerror}") from exc
            docx_path = str(path)
            record_access(user, AccessLog.Kind.EXPORT, "通报", rows=len(draft.lines), filename=path.name)

        if options["json"]:
            self.stdout.write(json.dumps(self._as_json(draft, shown, opened, docx_path), ensure_ascii=False, indent=2))
            return
        self._print(draft, shown, opened, docx_path)

    def _as_json(self, draft, shown, opened, docx_path) -> dict:
        return {
            "issued": draft.pk is not None,
            "bulletin_id": draft.pk,
            "year": draft.year,
            "number": draft.number if draft.pk is not None else None,
            "label": draft.label if draft.pk is not None else None,
            "title": draft.title,
            "issuer": draft.issuer,
            "level": draft.level,
            "parent": draft.parent_county.name if draft.parent_county else None,
            "as_of": draft.as_of.isoformat(),
            "metric": draft.metric.name,
            "campaign": draft.campaign.name if draft.campaign else None,
            "rows": [
                {
                    "position": line["position"],
                    "rank": line["rank"],
                    "previous_rank": line["previous_rank"],
                    "code": line["code"],
                    "name": line["name"],
                    "value": line["value"],
                    "rank_change": line["rank_change_text"],
                    "bottom_streak": line["bottom_streak"],
                    "flagged": line["flagged"],
                    "figures": line["figures"],
                }
                for line in shown["lines"]
            ],
            "supervision_opened": [
                {"unit": o.unit_name, "reason": o.reason_text, "deadline": o.deadline.isoformat()} for o in opened
            ],
            "supervision_due": [] if draft.pk is not None else list(draft.orders),
            "docx": docx_path or None,
        }

    def _print(self, draft, shown, opened, docx_path) -> None:
        state = f"已签发 {draft.label}" if draft.pk is not None else "草稿（未编号，没有写入任何通报；加 --issue 签发）"
        self.stdout.write(f"{draft.title}\n{draft.issuer}　{state}　数据日期：{draft.as_of}　指标：{draft.metric.name}")
        for line in shown["lines"]:
            rank = line["rank"] if line["rank"] is not None else "—"
            mark = f"  连续{line['bottom_streak']}期后三" if line["flagged"] else ""
            self.stdout.write(f"{rank!s:>4}  {line['name']:<12} {line['value']:>8}  {line['rank_change_text']}{mark}")
        if draft.pk is not None:
            self.stdout.write(
                "督办：" + ("、".join(o.unit_name for o in opened) + " 已开督办单" if opened else "无新督办单")
            )
        elif draft.orders:
            self.stdout.write("督办：签发时将对 " + "、".join(draft.orders) + " 开督办单")
        if docx_path:
            self.stdout.write(f"Word 公文：{docx_path}")
