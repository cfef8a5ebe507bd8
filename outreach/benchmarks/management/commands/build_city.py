from django.core.management.base import BaseCommand, CommandError

from outreach.benchmarks.city import DEFAULT_SEED, STEP_LABELS, CityExists, CityPlan, build_city


class Command(BaseCommand):
    help = (
        "在真实的运城市区划上生成城市规模的基准数据（先运行 load_divisions）：住户（默认 1,000,000，分布在"
        "全部非虚拟社区的村里，每户有网格）、党员（默认住户数的十分之一，在各村党支部）、活动“十万党员进百万家”"
        "中每户一条包联关系、走访记录（默认住户数的三倍，含讲解的诈骗类型）和各县、乡镇逐日的App注册通报。"
        "同一参数和种子得到完全相同的数据；已建好同样的一套时什么也不做。PostgreSQL 用 COPY，SQLite 用批量插入。"
        "只用于单独的基准数据库（如 bench_city），库里有别的业务数据时拒绝执行。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--households", type=int, default=1_000_000, help="住户数（默认 1,000,000）")
        parser.add_argument("--members", type=int, default=None, help="党员数（默认住户数 ÷ 10）")
        parser.add_argument("--visits", type=int, default=None, help="走访记录数（默认住户数 × 3）")
        parser.add_argument("--report-days", type=int, default=90, help="通报数据天数（默认 90）")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="随机种子")
        parser.add_argument("--reset", action="store_true", help="清空上一次生成的基准数据后重建")

    def handle(self, *args, **options):
        if options["households"] < 1:
            raise CommandError("住户数至少为 1")
        plan = CityPlan(
            households=options["households"],
            members=options["members"],
            visits=options["visits"],
            report_days=options["report_days"],
            seed=options["seed"],
        )
        verbose = options["verbosity"] > 0
        if verbose:
            self.stdout.write(
                f"基准数据：住户 {plan.households:,}，党员 {plan.member_count:,}，走访 {plan.visit_count:,}，"
                f"通报 {plan.report_days} 天，种子 {plan.seed}"
            )
        try:
            result = build_city(plan, reset=options["reset"], log=self.stdout.write if verbose else lambda m: None)
        except (CityExists, RuntimeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not verbose:
            return
        if not result.created:
            self.stdout.write(f"同样的一套基准数据已存在（{result.build.finished_at:%Y-%m-%d %H:%M}），未重建。")
            return
        counts = "，".join(f"{STEP_LABELS[name]} {count:,}" for name, count in result.counts.items())
        self.stdout.write(f"已生成：{counts}；用时 {result.seconds:.1f} 秒")
        if options["verbosity"] > 1:
            steps = "，".join(f"{STEP_LABELS[name]} {seconds:.1f}" for name, seconds in result.steps.items())
            self.stdout.write(f"各步用时（秒）：{steps}")
