from django.core.management.base import BaseCommand

from outreach.dashboards.services import rebuild_summaries, refresh_pending, vacuum_summaries


class Command(BaseCommand):
    help = (
        "刷新排名用的汇总表（每村每日、每个党组织每日的累计数字）。不带参数时立即重算被标记为已变化的村"
        "（平时由 db_worker 执行的后台任务完成，不必手动运行）；--all 从走访、住户、包联和党员数据全部重建"
        "（批量导入大量数据、修改活动日期或参与的县后运行），在 PostgreSQL 上随后整理两张汇总表（VACUUM ANALYZE）。"
        "可重复运行。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="全部重建")

    def handle(self, *args, **options):
        if options["all"]:
            counts = rebuild_summaries()
            vacuumed = vacuum_summaries()
            if options["verbosity"]:
                self.stdout.write("已全部重建：" + "，".join(f"{k} {v:,}" for k, v in counts.items()))
                if vacuumed:
                    self.stdout.write("已整理汇总表（VACUUM ANALYZE），排名可以只读索引")
            return
        n = refresh_pending(wait=True)
        if options["verbosity"]:
            self.stdout.write(f"已刷新 {n} 个村的汇总")
