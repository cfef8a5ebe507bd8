import os
import traceback
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from outreach.benchmarks import measurements  # noqa: F401 - registers the measurements
from outreach.benchmarks.context import Context, MeasureError
from outreach.benchmarks.models import CityBuild
from outreach.benchmarks.registry import REGISTRY, Result
from outreach.benchmarks.report import command_line, json_line, machine, payload, table_text, write_docs


class Command(BaseCommand):
    help = (
        "在 build_city 生成的基准数据上测量每条路径：后台住户列表与搜索、各排名与看板页面、责任分工表的导入导出、"
        "经 gunicorn 提交走访的吞吐与延迟。每项取多次运行的中位数和 p95，和各 issue 的目标并列，打印一张表和"
        "一行 JSON；尚未合并的功能显示“尚未可用”并跳过。用 --docs 把结果写进 docs/benchmarks.md。"
        "请在单独的基准数据库上运行（如 bench_city），并关闭 DEBUG。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="*", default=[], help="只运行这些测量（名称或前缀，如 admin dashboards）")
        parser.add_argument("--skip", nargs="*", default=[], help="跳过这些测量（名称或前缀）")
        parser.add_argument("--quick", action="store_true", help="跳过耗时的测量（导入导出、负载、重建汇总）")
        parser.add_argument("--runs", type=int, default=10, help="每个页面计时的请求次数（默认 10）")
        parser.add_argument("--load-seconds", type=int, default=10, help="每轮负载测试的秒数（默认 10）")
        parser.add_argument("--load-runs", type=int, default=3, help="负载测试轮数，取中位数（默认 3）")
        parser.add_argument("--io-runs", type=int, default=3, help="导入、导出各运行几次，取中位数（默认 3）")
        parser.add_argument("--docs", type=Path, help="把结果写入此 Markdown 文件的“最近一次”区块")
        parser.add_argument("--note", default="", help="写进文档的说明（如：机器与其他任务共用）")
        parser.add_argument("--json-out", type=Path, help="另存一份 JSON 结果")
        parser.add_argument("--list", action="store_true", help="只列出全部测量及是否可用")

    def handle(self, *args, **options):
        chosen = [m for m in REGISTRY.values() if self._wanted(m, options)]
        if options["list"]:
            for m in REGISTRY.values():
                self.stdout.write(f"{m.key:<32} {m.title}  {m.missing() or '可用'}")
            return
        if not chosen:
            raise CommandError("没有符合 --only / --skip 的测量；用 --list 查看全部")
        if settings.DEBUG:
            self.stderr.write("注意：DEBUG 已开启，页面会比生产慢（make bench 会关闭 DEBUG）。")
        build = CityBuild.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()
        if build is None:
            self.stderr.write("注意：数据库里没有 build_city 生成的数据集，结果没有可比性。")
        started = timezone.now()
        load_at_start = [round(x, 2) for x in os.getloadavg()]
        verbose = options["verbosity"] > 0
        ctx = Context(
            runs=max(1, options["runs"]),
            load_seconds=max(1, options["load_seconds"]),
            load_runs=max(1, options["load_runs"]),
            io_runs=max(1, options["io_runs"]),
            log=self.stdout.write if verbose else lambda message: None,
        )
        results = []
        for m in chosen:
            reason = m.missing()
            if reason:
                results.append(Result(m, "skipped", note=reason))
                continue
            if verbose:
                self.stdout.write(f"… {m.title}", ending="\r" if self.stdout.isatty() else "\n")
            try:
                results.append(Result(m, "ok", figures=m.func(ctx)))
            except MeasureError as exc:
                results.append(Result(m, "failed", note=f"出错：{exc}"))
            except Exception as exc:  # noqa: BLE001 - one broken path must not hide the other figures
                if options["verbosity"] > 1:
                    self.stderr.write(traceback.format_exc())
                results.append(Result(m, "failed", note=f"出错：{type(exc).__name__}: {exc}"))
        info = machine()
        info["load_average_start"] = load_at_start
        info["load_average_end"] = info.pop("load_average")
        scale = {}
        if build is not None:
            scale = {
                "households": build.households,
                "members": build.members,
                "visits": build.visits,
                "report_days": build.report_days,
                "seed": build.seed,
            }
        data = payload(results, info=info, scale=scale, command=command_line(), started=started)
        if verbose:
            self.stdout.write("")
            self.stdout.write(table_text(results))
        self.stdout.write(json_line(data))
        if options["json_out"]:
            options["json_out"].write_text(json_line(data) + "\n", encoding="utf-8")
        if options["docs"]:
            write_docs(options["docs"], results, data, note=options["note"])
            if verbose:
                self.stdout.write(f"已写入 {options['docs']}")

    @staticmethod
    def _wanted(m, options) -> bool:
        def matches(patterns):
            return any(m.key == p or m.key.startswith(p.rstrip(".") + ".") for p in patterns)

        if options["only"] and not matches(options["only"]):
            return False
        if options["skip"] and matches(options["skip"]):
            return False
        return not (options["quick"] and m.heavy)
