import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from outreach.dashboards.services import rebuild_summaries, refresh_pending


class Command(BaseCommand):
    help = (
        "刷新排名用的汇总表（每村每日、每个党组织每日的累计数字）。不带参数时只重算被标记为已变化的村；"
        "--all 从走访、住户、包联和党员数据全部重建（批量导入大量数据后运行）；"
        "--watch 秒数 常驻运行，每隔这些秒重算被标记的村（make serve 会启动它，排名页面因此不必自己重算）。可重复运行。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="全部重建")
        parser.add_argument("--watch", type=float, metavar="秒数", help="常驻运行，每隔这些秒重算被标记的村")
        parser.add_argument("--loops", type=int, default=0, help="与 --watch 同用：循环这么多次后退出（0 为一直运行）")

    def handle(self, *args, **options):
        if options["all"]:
            counts = rebuild_summaries()
            if options["verbosity"]:
                self.stdout.write("已全部重建：" + "，".join(f"{k} {v:,}" for k, v in counts.items()))
            return
        if options["watch"] is None:
            n = refresh_pending()
            if options["verbosity"]:
                self.stdout.write(f"已刷新 {n} 个村的汇总")
            return
        loops = 0
        while True:
            n = refresh_pending()
            if n and options["verbosity"]:
                self.stdout.write(f"已刷新 {n} 个村的汇总")
            loops += 1
            if options["loops"] and loops >= options["loops"]:
                return
            time.sleep(options["watch"])
            # A long-running process: drop a connection the database closed or that outlived CONN_MAX_AGE.
            close_old_connections()
