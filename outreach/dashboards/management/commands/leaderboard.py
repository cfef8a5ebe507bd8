import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils.dateparse import parse_date

from outreach.campaigns.models import Campaign
from outreach.dashboards.queries import LEVELS, ranking
from outreach.dashboards.services import ensure_fresh_summaries
from outreach.lib import metrics as m
from outreach.places.models import County, Town, Village

PARENT_MODEL = {"town": County, "zone": County, "organization": County, "village": Town, "grid": Village}


class Command(BaseCommand):
    help = (
        "在命令行打印排名：--level county|town|zone|village|grid|organization（默认 county），"
        "--parent 上级单位的区划代码或名称（乡镇、片区、党组织排名填县，村排名填乡镇，网格排名填村），"
        "--date YYYY-MM-DD（默认最近一次通报日期），--metric 指标名称或代码（如 注册率、入户率），"
        "--campaign 活动名称（默认按活动规则：当日唯一覆盖该范围的进行中活动，有几个时取覆盖全市的，并打印理由），"
        "--json 输出 JSON 列表（名次、代码、名称、指标值、活动及所用数字）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--level", default="county", choices=list(LEVELS))
        parser.add_argument("--parent", default="")
        parser.add_argument("--date", default="")
        parser.add_argument("--metric", default="")
        parser.add_argument("--campaign", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        level = options["level"]
        parent = None
        if level != "county":
            if not options["parent"]:
                raise CommandError(f"{LEVELS[level]}排名须用 --parent 指定上级单位（区划代码或名称）")
            parent = self._find(PARENT_MODEL[level], options["parent"])
        as_of = None
        if options["date"]:
            as_of = parse_date(options["date"])
            if as_of is None:
                raise CommandError(f"日期格式应为 YYYY-MM-DD：{options['date']}")
        campaign = None
        if options["campaign"]:
            campaign = Campaign.objects.filter(name=options["campaign"]).first()
            if campaign is None:
                raise CommandError(f"没有名为“{options['campaign']}”的活动")
        ensure_fresh_summaries()
        try:
            metric = m.get_metric(options["metric"]).key if options["metric"] else None
            result = ranking(level, parent, as_of, metric, campaign=campaign)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from exc
        metric = result.metric
        if options["json"]:
            out = []
            for row in result.rows:
                num, den = metric.parts(row)
                item = {
                    "rank": row["rank"],
                    "previous_rank": row["previous_rank"],
                    "code": row["code"],
                    "name": row["name"],
                    "metric": metric.name,
                    "value": metric.display(row),
                    "numerator": num,
                    "denominator": den,
                    "delta": row["delta"],
                    "campaign": result.campaign.name if result.campaign else None,
                }
                item.update({k: row.get(k) for k in m.FIGURES})
                out.append(item)
            self.stdout.write(json.dumps(out, ensure_ascii=False, indent=2))
            return
        scope = parent.name if parent else "运城市"
        self.stdout.write(
            f"{scope} {result.level_name}排名  截至 {result.as_of}  指标：{metric.name}（{metric.definition}）"
        )
        self.stdout.write(f"活动：{result.campaign.name if result.campaign else '无'}（{result.choice.reason}）")
        for row in result.rows:
            num, den = metric.parts(row)
            rank = row["rank"] if row["rank"] is not None else "—"
            parts = f"{num:,} ÷ {den:,}" if num is not None and den else ""
            change = row["rank_change"]
            arrow = "" if not change else (f"↑{change}" if change > 0 else f"↓{-change}")
            self.stdout.write(
                f"{rank!s:>4}  {row['name']:<12} {metric.display(row):>8}  {parts}  {row['delta']} {arrow}"
            )

    def _find(self, model, text):
        qs = model.objects.filter(Q(code=text) | Q(name=text))
        if model is Village:
            qs = model.objects.filter(Q(code=text) | Q(name=text) | Q(short_name=text))
        found = list(qs[:2])
        if len(found) != 1:
            raise CommandError(
                f"找不到唯一的上级单位：{text}（{'有重名，请用区划代码' if found else '没有这个名称或代码'}）"
            )
        return found[0]
