import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from outreach.dashboards.queries import chase_counts
from outreach.notify.messages import chase_text
from outreach.notify.models import PushMessage
from outreach.notify.services import queue_message, robots_for
from outreach.places.models import County


class Command(BaseCommand):
    help = (
        "把督办提醒推送到工作群（每天由 cron 运行）：每个县的工作群收到本县各乡镇（街道）从未走访的重点人群住户数和"
        "连续 --days 天（默认 7）没有走访的党员数，市级工作群收到各县的合计；数字与“督办清单”页面的规则相同"
        "（住户按当天该县的活动规则取活动）。只推送给已启用的机器人；发送在后台进行（db_worker），失败自动重试。"
        "--county 只推送一个县，--date YYYY-MM-DD 指定截至日期（默认今天），--dry-run 只打印不推送，--json 输出数字。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--county", default="", help="县（市、区）名称或区划代码")
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--date", default="")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        as_of = timezone.localdate()
        if options["date"]:
            try:
                as_of = parse_date(options["date"])
            except ValueError:  # well formed but no such day (2021-02-30)
                as_of = None
            if as_of is None:
                raise CommandError(f"日期格式应为 YYYY-MM-DD：{options['date']}")
        days = options["days"]
        if not 1 <= days <= 365:
            raise CommandError("--days 应在 1 到 365 之间")
        counties = County.objects.order_by("code")
        if options["county"]:
            counties = counties.filter(Q(name=options["county"]) | Q(code=options["county"]))
            if not counties.exists():
                raise CommandError(f"没有这个县（市、区）：{options['county']}")
        figures, city_rows, queued = {}, [], 0
        with transaction.atomic():
            for county in counties:
                rows = chase_counts(county, days, as_of)
                figures[county.name] = [{k: r[k] for k in ("name", "households", "members")} for r in rows]
                city_rows.append(
                    {
                        "name": county.name,
                        "households": sum(r["households"] for r in rows),
                        "members": sum(r["members"] for r in rows),
                    }
                )
                if not options["dry_run"]:
                    queued += self._queue(robots_for(county), county.name, rows, days, as_of)
            if not options["county"] and not options["dry_run"]:
                shown = [r for r in city_rows if r["households"] or r["members"]]
                queued += self._queue(robots_for(None), "运城市", shown, days, as_of)
        if options["json"]:
            self.stdout.write(
                json.dumps({"date": as_of.isoformat(), "days": days, "counties": figures}, ensure_ascii=False, indent=2)
            )
        elif options["verbosity"] >= 1:
            for row in city_rows:
                self.stdout.write(
                    f"{row['name']}：重点人群住户 {row['households']:,} 户未走访，党员 {row['members']:,} 人未走访"
                )
            if options["dry_run"]:
                self.stdout.write("（--dry-run：没有推送）")
            else:
                self.stdout.write(f"已排队推送 {queued} 条消息（由后台任务发送，结果见后台“推送消息”）")

    def _queue(self, robots, place_name, rows, days, as_of) -> int:
        if not robots:
            return 0
        title, text = chase_text(place_name, rows, days, as_of)
        for robot in robots:
            queue_message(robot, PushMessage.Topic.CHASE, title, text)
        return len(robots)
