"""``manage.py drill``: the servers it starts, the order of the faults, and what it prints and writes.

The command runs twice. The outer run starts a PostgreSQL primary on 127.0.0.1 in a temporary folder, builds
the city there with ``build_city``, makes a streaming replica with ``pg_basebackup -R`` and starts it, then
runs the inner run (``--inner``) with ``DATABASE_URL`` / ``DATABASE_REPLICA_URL`` on those two servers, so the
app, gunicorn and the workers are configured against them from their first line. Whatever happens (a fault,
an error, Ctrl-C, SIGTERM), the outer run then stops the inner run by its pid, both servers by their pid files,
and removes the folder. It never connects to any other PostgreSQL.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections

from outreach.benchmarks.pgcluster import PRIMARY_SETTINGS, ClusterError, Server, find_bindir, hand_over, port_free
from outreach.benchmarks.pgcluster import server_account as account_for_servers

DATABASE = "drill_city"
DOCS_START = "<!-- drill:latest:start -->"
DOCS_END = "<!-- drill:latest:end -->"
STEPS = [
    ("replica", "只读副本：看板读副本、写入在主库，走访负载下的复制延迟"),
    ("replica_outage", "运行中停掉副本：看板改读主库、不出错误页，副本恢复后回到副本"),
    ("primary_restart", "走访 POST 负载下 pg_ctl restart -m fast 重启主库"),
    ("worker_killed", "走访 POST 负载下 SIGKILL 一个 gunicorn worker"),
    ("killed_import", "导入写入数据库时 SIGKILL db_worker"),
    ("backup_restore", "负载下 pg_dump -Fc，pg_restore -j 到新库，与转储快照核对"),
]


class DrillError(RuntimeError):
    pass


def app_env(primary_url: str, replica_url: str | None = None) -> dict:
    """The environment of every app process of the drill: production settings on the drill's own servers."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DATABASE_REPLICA_URL")}
    env.update(
        {
            "DATABASE_URL": primary_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "SECRET_KEY": "drill-only-not-a-secret-" + "d" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        }
    )
    if replica_url:
        env["DATABASE_REPLICA_URL"] = replica_url
    return env


def manage(env: dict, *args: str, timeout: float = 7200) -> float:
    """Run a manage.py command of this checkout with ``env``; returns its seconds, raises on failure."""
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise DrillError(f"manage.py {' '.join(args)} 失败：{(completed.stderr or completed.stdout)[-1500:]}")
    return round(time.monotonic() - started, 1)


def run_outer(options: dict, log: Callable[[str], None]) -> dict:
    """Start the servers, build the city, run the faults in the inner run; always stop and remove everything."""
    bindir = find_bindir()
    account = account_for_servers()
    ports = (options["primary_port"], options["replica_port"])
    for port in ports:
        if not port_free(port):
            raise DrillError(f"端口 {port} 已被占用：用 --primary-port / --replica-port 换一个")
    root = Path(tempfile.mkdtemp(prefix="fanzha-drill-"))
    os.chmod(root, 0o755)
    hand_over(root, account)
    primary = Server("primary", str(bindir), str(root / "primary"), ports[0], account, str(root))
    replica = Server("replica", str(bindir), str(root / "replica"), ports[1], account, str(root))
    inner = None
    setup: dict = {"households": options["households"], "postgresql_bin": str(bindir)}
    result: dict = {}
    try:
        primary.initdb(PRIMARY_SETTINGS)
        setup["primary_start_s"] = primary.start()
        log(f"主库已启动：127.0.0.1:{primary.port}（pid {primary.pid()}，数据目录 {primary.datadir}）")
        with psycopg.connect(primary.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        with psycopg.connect(primary.conninfo(DATABASE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        env = app_env(primary.url(DATABASE))
        setup["migrate_s"] = manage(env, "migrate", "--noinput", "-v0")
        setup["load_divisions_s"] = manage(env, "load_divisions")
        log(f"build_city --households {options['households']:,} …")
        setup["build_city_s"] = manage(env, "build_city", "--households", str(options["households"]))

        # build_city leaves every village marked stale: rebuild once before the load, as after any bulk load.
        setup["rebuild_summaries_s"] = manage(env, "refresh_summaries", "--all")
        log(
            f"城市数据已生成（{setup['build_city_s']} 秒），汇总表已重建（{setup['rebuild_summaries_s']} 秒）；"
            "pg_basebackup -R 建只读副本 …"
        )
        replica, setup["basebackup_s"] = primary.make_replica("replica", replica.datadir, ports[1], "drill_replica")
        setup["replica_start_s"] = replica.start()
        with psycopg.connect(primary.conninfo(), autocommit=True) as conn:
            setup["database_mb"] = round(
                conn.execute("SELECT pg_database_size(%s)", [DATABASE]).fetchone()[0] / 2**20, 1
            )
        log(f"只读副本已启动：127.0.0.1:{replica.port}（pid {replica.pid()}）")
        state = root / "state.json"
        outcome = root / "result.json"
        state.write_text(
            json.dumps(
                {
                    "primary": primary.to_json(),
                    "replica": replica.to_json(),
                    "database": DATABASE,
                    "folder": str(root),
                    "load_seconds": options["load_seconds"],
                    "import_rows": options["import_rows"] or _import_rows(options["households"]),
                }
            )
        )
        inner = subprocess.Popen(
            [sys.executable, "manage.py", "drill", "--inner", str(state), str(outcome)],
            cwd=settings.BASE_DIR,
            env=app_env(primary.url(DATABASE), replica.url(DATABASE)),
        )
        code = inner.wait()
        if not outcome.exists():
            raise DrillError(f"演练的内层进程退出（代码 {code}），没有留下结果")
        result = json.loads(outcome.read_text())
    finally:
        cleanup = {"inner_stopped": _stop_process(inner)}
        for server in (replica, primary):
            cleanup[f"{server.name}_was_running"] = server.shut_down()
        cleanup["servers_left_running"] = sum(1 for server in (replica, primary) if server.running())
        shutil.rmtree(root, ignore_errors=True)
        cleanup["folder_removed"] = not root.exists()
        log(f"已停止主库和副本、删除 {root}")
    result["setup"] = setup
    result["cleanup"] = cleanup
    return result


def _import_rows(households: int) -> int:
    """The killed import's size: 100,000 rows at the benchmark's city, less for a quick run."""
    return max(5_000, min(100_000, households // 10))


def _stop_process(process) -> bool:
    if process is None or process.poll() is not None:
        return False
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return True


def run_inner(state_path: Path, result_path: Path, log: Callable[[str], None]) -> None:
    """The faults, in order, against the servers the outer run started; writes their figures as JSON."""
    from outreach.benchmarks import faults
    from outreach.benchmarks.context import Context
    from outreach.benchmarks.report import machine

    state = json.loads(state_path.read_text())
    drill = faults.Drill(
        primary=Server.from_json(state["primary"]),
        replica=Server.from_json(state["replica"]),
        database=state["database"],
        ctx=Context(log=log),
        load_seconds=state["load_seconds"],
        import_rows=state["import_rows"],
        log=log,
    )
    folder = Path(state["folder"])
    steps = {
        "replica": faults.replica_routing,
        "replica_outage": faults.replica_outage,
        "primary_restart": faults.primary_restart,
        "worker_killed": faults.worker_killed,
        "killed_import": faults.killed_import,
        "backup_restore": lambda d: faults.backup_restore(d, folder),
    }
    started = dt.datetime.now().astimezone()
    results = {}
    for role in ("grid", "city"):  # made before the load starts, on the primary
        drill.ctx.user(role)
    with faults.serving(drill):
        for key, title in STEPS:
            log(f"… {title}")
            begun = time.monotonic()
            connections.close_all()  # the drill's own connection may not have outlived the last fault
            try:
                figures = steps[key](drill)
            except Exception as exc:  # noqa: BLE001 - one failed fault must not hide the others
                figures = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            figures["step_s"] = round(time.monotonic() - begun, 1)
            results[key] = figures
            log(f"  {'通过' if figures.get('ok') else '未通过'}：{summary(key, figures)}")
    connections.close_all()
    result_path.write_text(
        json.dumps(
            {"drill": "fanzha-faults", "date": started.isoformat(timespec="seconds"), "machine": machine(), **results},
            ensure_ascii=False,
            default=str,
        )
    )


# -- what people read ------------------------------------------------------------------------------------------


def summary(key: str, f: dict) -> str:
    """One line of figures per fault, in the words of the bulletins."""
    if "error" in f:
        return f"出错：{f['error']}"
    if key == "replica":
        return (
            f"看板请求 {f['dashboard_requests']:,} 次、错误 {f['dashboard_errors']}；排名查询在副本执行 "
            f"{f['replica_ranking_reads']:,} 次、主库 {f['primary_ranking_reads']} 次；走访 INSERT 主库 "
            f"{f['primary_visit_inserts']:,} 次、副本 {f['replica_visit_inserts']} 次；复制延迟中位 "
            f"{f.get('lag_median_ms', '—')} ms、最大 {f.get('lag_max_ms', '—')} ms（最大 {f.get('lag_max_bytes', '—'):,} 字节）"
        )
    if key == "replica_outage":
        return (
            f"看板请求 {f['dashboard_requests']:,} 次、错误 {f['dashboard_errors']}（副本停止期间 "
            f"{f['requests_while_down']:,} 次、错误 {f['errors_while_down']}）；停止期间主库执行排名查询 "
            f"{f['primary_ranking_reads_while_down']:,} 次；副本恢复后读副本 {f['replica_ranking_reads_after_back']:,} 次"
        )
    if key in ("primary_restart", "worker_killed"):
        extra = (
            f"重启用时 {f['restart_s']} 秒，gunicorn 未重启：{'是' if f['gunicorn_same_master'] else '否'}"
            if key == "primary_restart"
            else f"worker 重新拉起用时 {f['respawned_s']} 秒"
        )
        return (
            f"请求 {f['requests']:,} 次、2xx {f['answered_2xx']:,}、失败 {f['failed_requests']:,}，"
            f"不可用 {f['unavailable_s']} 秒；2xx 已存 {f['answered_2xx'] - f['lost']:,}、丢失 {f['lost']}、"
            f"重复 {f['doubled']}；重发未答复的 {f['resent_unanswered']:,} 条（另重发已答复的 {f['resent_answered']:,} 条）后"
            f"每条恰好存一次 {f['stored_once']:,}/{f['sent']:,}、"
            f"缺 {f['missing_after_resend']}、重复 {f['doubled_after_resend']}；{extra}"
        )
    if key == "killed_import":
        return (
            f"{f['rows']:,} 行导入在“{f['killed_in']}”阶段被杀：留下半截 {f['half_rows']} 行；标记失败："
            f"{'是' if f['failed_after_cleanup'] else '否'}；重新运行写入 {f['rerun_rows']:,} 行（{f['rerun_s']} 秒）；"
            f"同时的走访 2xx {f['visits_answered_2xx']:,} 条、丢失 {f['visits_lost']}、重复 {f['visits_doubled']}、"
            f"重发后缺 {f['visits_missing_after_resend']}"
        )
    if key == "backup_restore":
        return (
            f"pg_dump {f['dump_s']} 秒（{f['dump_mb']} MB，期间存下走访 {f['visits_during_dump']:,} 条），"
            f"pg_restore -j {f['restore_jobs']} {f['restore_s']} 秒；{f['tables']} 张表 {f['rows']:,} 行、"
            f"三张表校验和、县排名 JSON（{f['ranking_rows']} 行）与快照"
            + ("完全一致" if not f["differences"] else f"不一致：{'；'.join(f['differences'][:5])}")
        )
    return json.dumps(f, ensure_ascii=False)


def table_text(result: dict) -> str:
    lines = []
    for key, title in STEPS:
        figures = result.get(key)
        if figures is None:
            continue
        lines.append(f"  {'通过' if figures.get('ok') else '未通过':<4} {title}：{summary(key, figures)}")
    return "\n".join(lines)


def table_markdown(result: dict) -> str:
    lines = ["| 故障 | 结果 | 结论 |", "| --- | --- | --- |"]
    for key, title in STEPS:
        figures = result.get(key)
        if figures is not None:
            verdict = "通过" if figures.get("ok") else "**未通过**"
            lines.append(f"| {title} | {summary(key, figures).replace('|', '/')} | {verdict} |")
    return "\n".join(lines)


def passed(result: dict) -> bool:
    return all(result.get(key, {}).get("ok") for key, _ in STEPS) and not result.get("cleanup", {}).get(
        "servers_left_running"
    )


def json_line(result: dict) -> str:
    return json.dumps({**result, "passed": passed(result)}, ensure_ascii=False, separators=(",", ":"), default=str)


def write_docs(path: Path, result: dict, command: str) -> None:
    """Replace the latest-run block of ``path`` (between the markers), keeping the rest of the file."""
    setup, info, cleanup = result.get("setup", {}), result.get("machine", {}), result.get("cleanup", {})
    block = [
        DOCS_START,
        f"最近一次：{result.get('date')}，命令 `{command}`，结论：{'全部通过' if passed(result) else '有未通过的项'}",
        "",
        f"- 机器：{info.get('nproc')} 核（{info.get('cpu') or '未知 CPU'}），内存 {info.get('memory_gb')} GB；"
        f"PostgreSQL {info.get('database_version')}（{setup.get('postgresql_bin')}），Django {info.get('django')}，"
        f"gunicorn {info.get('gunicorn')}；代码 {info.get('commit') or '未知'}",
        f"- 城市：住户 {setup.get('households', 0):,}，库 {setup.get('database_mb')} MB；build_city "
        f"{setup.get('build_city_s')} 秒，refresh_summaries --all {setup.get('rebuild_summaries_s')} 秒，"
        f"pg_basebackup {setup.get('basebackup_s')} 秒",
        f"- 收尾：主库、副本已停止（仍在运行 {cleanup.get('servers_left_running')} 个），临时目录已删除："
        f"{'是' if cleanup.get('folder_removed') else '否'}",
        "",
        table_markdown(result),
        "",
        "JSON：",
        "",
        "```json",
        json_line(result),
        "```",
        DOCS_END,
    ]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = "\n".join(block)
    if DOCS_START in text and DOCS_END in text:
        head, rest = text.split(DOCS_START, 1)
        text = head + new + rest.split(DOCS_END, 1)[1]
    else:
        text = (text.rstrip() + "\n\n" if text else "") + new + "\n"
    path.write_text(text, encoding="utf-8")


__all__ = ["ClusterError", "DrillError", "run_inner", "run_outer", "table_text", "json_line", "write_docs"]
