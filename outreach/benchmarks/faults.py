"""The faults of ``manage.py drill``, each run against the real app under gunicorn while the phone load runs.

The drill's inner process runs these with ``DATABASE_URL`` on the drill's own primary and
``DATABASE_REPLICA_URL`` on its streaming replica (see ``drill.py`` for the servers and their clean-up).
Every process started here is stopped here, by its own handle; every load is bounded in requests and time.
Evidence comes from the servers themselves: pg_stat_statements and pg_stat_database on each server,
pg_stat_replication on the primary, and the rows stored per client id.
"""

import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Count, Max
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from outreach.benchmarks import accounting
from outreach.benchmarks.context import Context, MeasureError
from outreach.benchmarks.load import LoadSpec, gunicorn, run_python
from outreach.benchmarks.measurements import (
    IMPORT_COUNTY,
    _dataio_step,
    _start_worker,
    _wait_for,
    login_session,
    undo_import,
    visit_post_request,
)
from outreach.benchmarks.pgcluster import Server
from outreach.campaigns.models import Assignment
from outreach.people.models import Household, PartyOrganization
from outreach.visits.models import Visit

WORKERS = (os.cpu_count() or 1) + 1  # what make serve starts
SUMMARY_TABLE = "dashboards_villagedaysummary"
VISIT_TABLE = Visit._meta.db_table
CHECKED_TABLES = {
    "households": Household._meta.db_table,
    "assignments": Assignment._meta.db_table,
    "visits": VISIT_TABLE,
}


@dataclasses.dataclass
class Drill:
    primary: Server
    replica: Server
    database: str
    ctx: Context
    load_seconds: int = 12
    max_visits: int = 4000
    import_rows: int = 10_000
    log: Callable[[str], None] = print
    server: object = None  # the running gunicorn (load.Server)
    _cache: dict = dataclasses.field(default_factory=dict)

    # -- the two kinds of load ----------------------------------------------------------------------------

    def visit_spec(self, **changes) -> LoadSpec:
        if "visit" not in self._cache:
            self._cache["visit"] = visit_post_request(self.ctx)
        households, body, headers = self._cache["visit"]
        spec = LoadSpec(
            url=f"{self.server.base}{reverse('mobile:visit_api')}",
            method="POST",
            headers=headers,
            body=json.dumps(body, ensure_ascii=False),
            households=households,
            connections=8,
            seconds=self.load_seconds,
            max_requests=self.max_visits,
            record=True,
            error_pause=0.2,  # a phone waits before it tries again
        )
        return dataclasses.replace(spec, **changes)

    def dashboard_spec(self, **changes) -> LoadSpec:
        if "session" not in self._cache:
            self._cache["session"] = login_session(self.ctx.user("city"))[0]
        spec = LoadSpec(
            url=f"{self.server.base}{reverse('dashboards:county_ranking')}",
            headers={"Cookie": f"sessionid={self._cache['session']}"},
            connections=2,
            seconds=self.load_seconds,
            max_requests=self.max_visits,
            record=True,
        )
        return dataclasses.replace(spec, **changes)

    # -- accounting of the visits a run sent ----------------------------------------------------------------

    def stored(self, since) -> dict[str, int]:
        """Rows per client id of the drill's grid worker stored since ``since`` (read on the primary)."""
        connections.close_all()  # a fault (the primary's restart) may have ended this process's connection
        rows = (
            Visit.objects.filter(recorded_by=self.ctx.user("grid"), created_at__gte=since)
            .values("client_id")
            .annotate(n=Count("id"))
        )
        return {str(row["client_id"]): row["n"] for row in rows}

    def settle(self, since, outcomes: list) -> dict:
        """Accounting right after the fault, then the outbox's resends until every visit is answered."""
        figures = accounting.account(outcomes, self.stored(since))
        figures["resent_unanswered"] = len(accounting.to_resend(outcomes))
        resends = []
        for _ in range(5):
            pending = accounting.to_resend(outcomes + resends)
            if not pending:
                break
            run = run_python(self.visit_spec(bodies=tuple(pending), seconds=60, max_requests=len(pending)))
            resends.extend(run["outcomes"])
        # A phone also resends when the answer was lost on the way: repeat some answered ones as well.
        answered = [o.body for o in outcomes if accounting.answered(o.status)][:200]
        figures["resent_answered"] = len(answered)
        if answered:
            resends.extend(run_python(self.visit_spec(bodies=tuple(answered), seconds=60))["outcomes"])
        figures.update(accounting.after_resend(outcomes, resends, self.stored(since)))
        figures["unavailable_s"] = accounting.unavailable_seconds(outcomes)
        return figures

    # -- processes ---------------------------------------------------------------------------------------------

    def workers(self) -> list[int]:
        return children(self.server.pid)


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return sorted(found)


@contextmanager
def background(*args: str):
    """A manage.py command of this checkout in the background, stopped by its own handle at the end."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serving(drill: Drill):
    """gunicorn with the workers make serve starts, for the whole drill. No db_worker runs beside it: the
    summary refresh jobs the visits queue wait in the database queue (pages past the grace refresh themselves),
    and the one worker of the killed-import fault is the only process that takes jobs."""
    with gunicorn(workers=WORKERS) as server:
        drill.server = server
        yield server


def in_thread(func, *args, **kwargs):
    """Run ``func`` in a thread; the returned callable joins it and gives its result (or raises its error)."""
    box = {}

    def target():
        try:
            box["value"] = func(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller on join
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def join():
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return join


# -- the servers' own statistics -----------------------------------------------------------------------------


def statements(server: Server, database: str) -> dict[int, tuple[str, int]]:
    """pg_stat_statements of ``database`` on ``server``: queryid → (query text, calls)."""
    with psycopg.connect(server.conninfo(database), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT queryid, min(query), sum(calls)::bigint FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY queryid"
        ).fetchall()
    return {qid: (query, calls) for qid, query, calls in rows}


def database_counters(server: Server, database: str) -> dict[str, int]:
    with psycopg.connect(server.conninfo(database), autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_returned, tup_fetched, tup_inserted FROM pg_stat_database WHERE datname = %s",
            [database],
        ).fetchone()
    return dict(zip(("xact_commit", "tup_returned", "tup_fetched", "tup_inserted"), row, strict=True))


def delta(before: dict, after: dict) -> dict:
    return {key: (after[key][0], after[key][1] - before.get(key, ("", 0))[1]) for key in after}


def summary_reads(calls: dict) -> dict[int, int]:
    """Calls of SELECTs on the village summary table (what the ranking pages read), per queryid."""
    return {
        qid: n
        for qid, (query, n) in calls.items()
        if n > 0 and SUMMARY_TABLE in query and query.lstrip().upper().startswith("SELECT")
    }


def visit_inserts(calls: dict) -> int:
    return sum(n for query, n in calls.values() if query.lstrip().startswith(f'INSERT INTO "{VISIT_TABLE}"'))


class LagSampler:
    """Samples pg_stat_replication on the primary every quarter second while a load runs."""

    def __init__(self, primary: Server):
        self.primary = primary
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with psycopg.connect(self.primary.conninfo(), autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT COALESCE(EXTRACT(epoch FROM replay_lag) * 1000, 0), "
                    "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication LIMIT 1"
                ).fetchone()
                if row and row[1] is not None:
                    self.samples.append((float(row[0]), int(row[1])))
                self.stop.wait(0.25)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)

    def figures(self) -> dict:
        if not self.samples:
            return {"lag_samples": 0}
        ms = sorted(s[0] for s in self.samples)
        lag_bytes = sorted(s[1] for s in self.samples)
        return {
            "lag_samples": len(ms),
            "lag_median_ms": round(ms[len(ms) // 2], 1),
            "lag_max_ms": round(ms[-1], 1),
            "lag_median_bytes": lag_bytes[len(lag_bytes) // 2],
            "lag_max_bytes": lag_bytes[-1],
        }


def streaming(primary: Server) -> bool:
    with psycopg.connect(primary.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").fetchone()
    return bool(row and row[0])


def wait_until(check: Callable[[], bool], seconds: float = 120.0) -> float | None:
    """Seconds until ``check()`` holds (polled every 0.2 s), or None after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if check():
                return round(time.monotonic() - started, 2)
        except psycopg.Error:
            pass
        time.sleep(0.2)
    return None


# -- 1. reads on the replica, writes on the primary -------------------------------------------------------------


def replica_routing(drill: Drill) -> dict:
    db = drill.database
    before = {"p": statements(drill.primary, db), "r": statements(drill.replica, db)}
    counters = {"p": database_counters(drill.primary, db), "r": database_counters(drill.replica, db)}
    since = timezone.now()
    with LagSampler(drill.primary) as lag:
        visits = in_thread(run_python, drill.visit_spec())
        pages = run_python(drill.dashboard_spec())
        visits = visits()
    primary = delta(before["p"], statements(drill.primary, db))
    replica = delta(before["r"], statements(drill.replica, db))
    replica_reads = summary_reads(replica)
    counters_after = {"p": database_counters(drill.primary, db), "r": database_counters(drill.replica, db)}
    stored = drill.stored(since)
    page_errors = sum(1 for o in pages["outcomes"] if o.status != 200)
    figures = {
        "dashboard_requests": pages["requests"],
        "dashboard_errors": page_errors,
        "dashboard_p50_ms": pages["p50_ms"],
        "replica_ranking_reads": sum(replica_reads.values()),
        # The very statements the replica ran for the pages, as counted by the primary in the same time.
        "primary_ranking_reads": sum(primary.get(qid, ("", 0))[1] for qid in replica_reads),
        "visits_2xx": sum(1 for o in visits["outcomes"] if accounting.answered(o.status)),
        "visits_per_s": visits["requests_per_s"],
        "primary_visit_inserts": visit_inserts(primary),
        "replica_visit_inserts": visit_inserts(replica),
        "visits_stored": len(stored),
        "replica_tup_returned": counters_after["r"]["tup_returned"] - counters["r"]["tup_returned"],
        "replica_xact_commit": counters_after["r"]["xact_commit"] - counters["r"]["xact_commit"],
        "primary_tup_inserted": counters_after["p"]["tup_inserted"] - counters["p"]["tup_inserted"],
        **lag.figures(),
    }
    figures["ok"] = bool(
        figures["replica_ranking_reads"] >= pages["requests"] > 0
        and figures["primary_ranking_reads"] == 0
        and figures["replica_visit_inserts"] == 0
        and figures["primary_visit_inserts"] >= figures["visits_2xx"] > 0
        and page_errors == 0
    )
    return figures


# -- 1b. the replica stops mid-run and comes back ----------------------------------------------------------------


def replica_outage(drill: Drill) -> dict:
    db = drill.database
    spell = max(6, drill.load_seconds // 2)  # seconds of each part: replica up, down, up again
    pages_run = in_thread(run_python, drill.dashboard_spec(seconds=3 * spell + 6, max_requests=100_000))
    visits_run = in_thread(run_python, drill.visit_spec(seconds=3 * spell + 6, max_requests=100_000))
    time.sleep(spell)
    primary_before = statements(drill.primary, db)
    replica_queries = summary_reads(statements(drill.replica, db))
    stopped_at = time.monotonic()
    stop_s = drill.replica.stop("fast")
    time.sleep(spell)
    primary_down = delta(primary_before, statements(drill.primary, db))
    start_s = drill.replica.start()
    back_at = time.monotonic()
    replica_after_start = statements(drill.replica, db)
    time.sleep(spell + 4)
    replica_back = summary_reads(delta(replica_after_start, statements(drill.replica, db)))
    pages = pages_run()
    visits = visits_run()
    down = [o for o in pages["outcomes"] if stopped_at <= o.started < back_at]
    figures = {
        "dashboard_requests": pages["requests"],
        "dashboard_errors": sum(1 for o in pages["outcomes"] if o.status != 200),
        "requests_while_down": len(down),
        "errors_while_down": sum(1 for o in down if o.status != 200),
        "primary_ranking_reads_while_down": sum(primary_down.get(q, ("", 0))[1] for q in replica_queries),
        "replica_ranking_reads_after_back": sum(replica_back.values()),
        "replica_stop_s": stop_s,
        "replica_start_s": start_s,
        "visit_errors": sum(1 for o in visits["outcomes"] if not accounting.answered(o.status)),
        "streaming_again_s": wait_until(lambda: streaming(drill.primary)),
    }
    figures["ok"] = bool(
        figures["dashboard_errors"] == 0
        and figures["requests_while_down"] > 0
        and figures["primary_ranking_reads_while_down"] > 0
        and figures["replica_ranking_reads_after_back"] > 0
        and figures["visit_errors"] == 0
    )
    return figures


# -- 2. the primary restarts under the phone load ------------------------------------------------------------------


def primary_restart(drill: Drill) -> dict:
    master = drill.server.pid
    workers_before = drill.workers()
    since = timezone.now()
    run = in_thread(run_python, drill.visit_spec(seconds=drill.load_seconds + 8))
    time.sleep(max(3, drill.load_seconds // 3))
    restart_s = drill.primary.restart("fast")
    outcomes = run()["outcomes"]
    figures = drill.settle(since, outcomes)
    figures["restart_s"] = restart_s
    figures["answered_after_restart"] = sum(
        1 for o in outcomes if accounting.answered(o.status) and o.started > max(x.started for x in outcomes) - 3
    )
    figures["gunicorn_same_master"] = master == drill.server.pid and _alive(master)
    figures["gunicorn_workers_kept"] = drill.workers() == workers_before
    figures["streaming_again_s"] = wait_until(lambda: streaming(drill.primary))
    figures["ok"] = _clean(figures) and figures["gunicorn_same_master"] and figures["answered_after_restart"] > 0
    return figures


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _clean(figures: dict) -> bool:
    return (
        figures["lost"] == 0
        and figures["doubled"] == 0
        and figures["missing_after_resend"] == 0
        and figures["doubled_after_resend"] == 0
        and figures["unexpected"] == 0
    )


# -- 3. a gunicorn worker and the db_worker are SIGKILLed --------------------------------------------------------


def worker_killed(drill: Drill) -> dict:
    since = timezone.now()
    before = drill.workers()
    run = in_thread(run_python, drill.visit_spec())
    time.sleep(max(2, drill.load_seconds // 3))
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    outcomes = run()["outcomes"]
    figures = drill.settle(since, outcomes)
    respawned = wait_until(lambda: len(drill.workers()) == len(before) and victim not in drill.workers(), 30)
    figures["killed_pid"] = victim
    figures["respawned_s"] = respawned
    figures["gunicorn_workers"] = len(drill.workers())
    figures["ok"] = _clean(figures) and respawned is not None
    return figures


def killed_import(drill: Drill) -> dict:
    """A real ``db_worker`` is SIGKILLed while it writes an import of ``import_rows`` rows; then the job is
    cleaned up, run again by a fresh worker, and the county must hold exactly one copy of the file's rows."""
    from outreach.dataio.jobs import enqueue_import, rerun_job
    from outreach.dataio.models import ImportJob
    from outreach.dataio.services import cleanup_jobs
    from outreach.places.models import County

    rows = drill.import_rows
    county = County.objects.get(code=IMPORT_COUNTY)
    households = Household.objects.filter(county=county)
    since = timezone.now()
    last_org_id = PartyOrganization.objects.aggregate(m=Max("pk"))["m"] or 0
    before = households.count()
    folder = tempfile.mkdtemp(prefix="drill-killed-")
    path = Path(folder) / f"责任分工表-{rows}.xlsx"
    try:
        _dataio_step("build", "--file", str(path), "--rows", str(rows), "--county", IMPORT_COUNTY)
        job = ImportJob.objects.create(
            kind="responsibility", county=county, file_name=path.name, stored_path=str(path), confirmed=True
        )
        enqueue_import(job)
        visits_since = timezone.now()
        stop = threading.Event()
        visits = in_thread(run_python, drill.visit_spec(seconds=900, max_requests=100_000, stop=stop))
        worker = _start_worker()
        try:
            phase = _wait_for(
                lambda: ImportJob.objects.get(pk=job.pk), lambda j: j.phase == "写入数据库" or not j.is_active
            )
            time.sleep(0.5)  # well inside the one write transaction
            worker.kill()
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)
            time.sleep(2)  # the phones go on a moment after the kill
            stop.set()
            outcomes = visits()["outcomes"]
        job.refresh_from_db()
        if job.status == ImportJob.Status.DONE:
            raise MeasureError("导入在杀掉进程之前已经完成，没能测到中途中断")
        half_rows = households.count() - before
        with override_settings(DATAIO_STALE_MINUTES=0):
            cleanup_jobs()
        job.refresh_from_db()
        failed = job.status == ImportJob.Status.FAILED
        rerun_job(job)
        started = time.monotonic()
        worker = _start_worker("--batch")
        try:
            worker.wait(timeout=900)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        job.refresh_from_db()
        added = households.count() - before
        phones = drill.settle(visits_since, outcomes)
        return {
            **{f"visits_{key}": phones[key] for key in ("answered_2xx", "lost", "doubled", "missing_after_resend")},
            "rows": rows,
            "half_rows": half_rows,
            "killed_in": phase.phase or phase.get_status_display(),
            "failed_after_cleanup": failed,
            "rerun_rows": added,
            "rerun_s": round(time.monotonic() - started, 1),
            "ok": bool(
                failed
                and job.status == ImportJob.Status.DONE
                and added == job.new == rows
                and half_rows == 0
                and _clean(phones)
            ),
        }
    finally:
        undo_import(IMPORT_COUNTY, since, last_org_id)
        shutil.rmtree(folder, ignore_errors=True)


# -- 4. pg_dump during the load, pg_restore -j into a new database ---------------------------------------------------


def snapshot_figures() -> dict:
    """Row counts of every table, checksums of households, assignments and visits, and the county ranking
    JSON, read through the default connection (inside the caller's transaction when there is one)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
        checksums = {}
        for label, table in CHECKED_TABLES.items():
            # Every column of every row, hashed and summed: the same rows give the same figure in any order.
            cursor.execute(f'SELECT count(*), COALESCE(sum(hashtextextended(t::text, 0)::numeric), 0) FROM "{table}" t')
            count, total = cursor.fetchone()
            checksums[label] = f"{count}:{total}"
    out = io.StringIO()
    # The ranking as the summary tables hold it: no refresh (a write) inside the dump's snapshot.
    with override_settings(DASHBOARD_REFRESH_GRACE_SECONDS=10**9):
        call_command("leaderboard", "--json", stdout=out)
    return {"counts": counts, "checksums": checksums, "ranking": out.getvalue()}


@contextmanager
def default_database(name: str):
    """Point the default connection at another database of the same server for a while."""
    connection = connections["default"]
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def backup_restore(drill: Drill, folder: Path) -> dict:
    dump = folder / "drill.dump"
    stop = threading.Event()
    since = timezone.now()
    run = in_thread(run_python, drill.visit_spec(seconds=3600, max_requests=200_000, stop=stop))
    time.sleep(2)
    try:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            started = time.monotonic()
            dumping = subprocess.Popen(
                [
                    str(Path(drill.primary.bindir) / "pg_dump"),
                    "-Fc",
                    f"--snapshot={snapshot}",
                    "-f",
                    str(dump),
                    "-d",
                    drill.primary.url(drill.database),
                ],
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                sums_started = time.monotonic()
                expected = snapshot_figures()
                checksum_s = round(time.monotonic() - sums_started, 2)
                _, error = dumping.communicate(timeout=3600)
                dump_s = round(time.monotonic() - started, 2)
            finally:
                if dumping.poll() is None:
                    dumping.kill()
                    dumping.wait()
            if dumping.returncode != 0:
                raise MeasureError(f"pg_dump 失败：{error[-500:]}")
    finally:
        stop.set()
        outcomes = run()["outcomes"]
    visits_during = drill.settle(since, outcomes)
    restored = f"{drill.database}_restore"
    with psycopg.connect(drill.primary.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        conn.execute(f'CREATE DATABASE "{restored}"')
    started = time.monotonic()
    jobs = str(max(2, os.cpu_count() or 2))
    completed = subprocess.run(
        [str(Path(drill.primary.bindir) / "pg_restore"), "-j", jobs, "--no-owner", "-d", drill.primary.url(restored)]
        + [str(dump)],
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    restore_s = round(time.monotonic() - started, 2)
    if completed.returncode != 0:
        raise MeasureError(f"pg_restore 失败：{completed.stderr[-500:]}")
    with default_database(restored):
        actual = snapshot_figures()
    differences = accounting.compare_snapshots(expected, actual)
    figures = {
        "dump_s": dump_s,
        "dump_mb": round(dump.stat().st_size / 2**20, 1),
        "restore_s": restore_s,
        "restore_jobs": int(jobs),
        "checksum_s": checksum_s,
        "tables": len(expected["counts"]),
        "rows": sum(expected["counts"].values()),
        "visits_in_dump": expected["counts"].get(VISIT_TABLE),
        "visits_during_dump": visits_during["answered_2xx"],
        "checksums": expected["checksums"],
        "ranking_rows": len(json.loads(expected["ranking"])),
        "differences": differences,
        "lost": visits_during["lost"],
        "doubled": visits_during["doubled"],
    }
    figures["ok"] = not differences and figures["visits_during_dump"] > 0 and _clean(visits_during)
    return figures
