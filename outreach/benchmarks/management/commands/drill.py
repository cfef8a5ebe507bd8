import os
import signal
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from outreach.benchmarks import drill
from outreach.benchmarks.pgcluster import ClusterError


def _terminate(signum, frame):
    raise KeyboardInterrupt  # the same clean-up as Ctrl-C


class Command(BaseCommand):
    help = (
        "故障演练（make drill）：在 127.0.0.1 上自己起一个 PostgreSQL 主库（临时目录，端口 55432），用 build_city "
        "建城市数据，用 pg_basebackup -R 建流复制只读副本（55433），在 gunicorn 下带 DATABASE_REPLICA_URL 运行本应用，"
        "在走访负载下依次演练：看板读副本、写入在主库（两台服务器自己的统计）和复制延迟；运行中停掉副本（看板改读主库、"
        "不出错误页，恢复后回到副本）；pg_ctl restart -m fast 重启主库；SIGKILL 一个 gunicorn worker；导入写入时 SIGKILL "
        "db_worker；负载下 pg_dump -Fc 再 pg_restore -j 到新库并与转储快照核对。每次故障都核对：每条答复 2xx 的走访恰好存"
        "一次，按同一客户端编号重发后每条走访恰好存一次。打印一张表和一行 JSON，--docs 写入 docs/drills.md。结束时"
        "（出错、Ctrl-C 也一样）按进程号停掉它启动的所有进程，删除数据目录。不连接其他任何 PostgreSQL。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--households", type=int, default=1_000_000, help="城市住户数（默认 1,000,000，同 make bench）"
        )
        parser.add_argument("--primary-port", type=int, default=55432)
        parser.add_argument("--replica-port", type=int, default=55433)
        parser.add_argument("--load-seconds", type=int, default=12, help="每段走访负载的秒数（默认 12）")
        parser.add_argument(
            "--import-rows", type=int, default=0, help="被杀的导入的行数（默认住户数 ÷ 10，至多 10 万）"
        )
        parser.add_argument("--docs", type=Path, help="把结果写入此 Markdown 文件的“最近一次”区块")
        parser.add_argument("--json-out", type=Path, help="另存一份 JSON 结果")
        parser.add_argument("--inner", nargs=2, metavar=("STATE", "RESULT"), help="（内部使用）演练的内层进程")

    def handle(self, *args, **options):
        verbose = options["verbosity"] > 0

        def log(message):
            if verbose:
                self.stdout.write(message)
                self.stdout.flush()

        if options["inner"]:
            # Stopped by the outer run with SIGTERM: unwind, so gunicorn and the workers are stopped too.
            signal.signal(signal.SIGTERM, _terminate)
            state, result = (Path(p) for p in options["inner"])
            try:
                drill.run_inner(state, result, log)
            except KeyboardInterrupt as exc:
                raise CommandError("演练被中断") from exc
            return
        if options["households"] < 1000:
            raise CommandError("住户数至少 1,000")
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            result = drill.run_outer(options, log)
        except KeyboardInterrupt as exc:
            raise CommandError("演练被中断：已停止它启动的进程并删除数据目录") from exc
        except (ClusterError, drill.DrillError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            signal.signal(signal.SIGTERM, previous)
        command = "make drill" if os.environ.get("MAKELEVEL") else "manage.py drill"
        command += f"（--households {options['households']}）"
        if verbose:
            self.stdout.write("")
            self.stdout.write(drill.table_text(result))
        line = drill.json_line(result)
        self.stdout.write(line)
        if options["json_out"]:
            options["json_out"].write_text(line + "\n", encoding="utf-8")
        if options["docs"]:
            drill.write_docs(options["docs"], result, command)
            log(f"已写入 {options['docs']}")
        if not drill.passed(result):
            sys.exit(1)
