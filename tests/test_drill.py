"""The pure parts of ``make drill``: its accounting of visits, the comparison of a restore with its dump, the
recording load generator, and the report. The drill itself (real servers, minutes) runs apart: ``make drill``."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from outreach.benchmarks import accounting, drill
from outreach.benchmarks.load import LoadSpec, Outcome, run_python
from outreach.benchmarks.pgcluster import Server, find_bindir


def outcome(cid, status, started=0.0, ended=None, body=None):
    return Outcome(
        cid, body or json.dumps({"client_id": cid}), status, started, started + 0.1 if ended is None else ended
    )


def test_it_counts_an_answered_visit_missing_from_the_database_as_lost():
    outcomes = [outcome("a", 201), outcome("b", 201), outcome("c", 500), outcome("d", 0)]
    figures = accounting.account(outcomes, {"a": 1, "d": 1})
    assert figures["lost"] == 1  # b was answered 201 and is not stored
    assert figures["answered_2xx"] == 2
    assert figures["failed_requests"] == 2
    assert figures["no_answer"] == 1
    assert figures["http_5xx"] == 1
    assert figures["stored_unanswered"] == 1  # d: stored, but its answer never arrived
    assert figures["doubled"] == 0


def test_it_counts_a_client_id_with_two_rows_as_doubled_and_rows_nobody_sent_as_unexpected():
    figures = accounting.account([outcome("a", 201)], {"a": 2, "z": 1})
    assert figures["doubled"] == 1
    assert figures["unexpected"] == 1


def test_it_resends_every_unanswered_client_id_once_in_the_order_first_sent():
    outcomes = [outcome("a", 500), outcome("b", 201), outcome("a", 0), outcome("c", 0), outcome("b", 500)]
    assert [json.loads(b)["client_id"] for b in accounting.to_resend(outcomes)] == ["a", "c"]


def test_it_finds_every_visit_stored_once_after_the_resends():
    first = [outcome("a", 201), outcome("b", 500), outcome("c", 0)]
    resends = [outcome("b", 201), outcome("c", 200), outcome("a", 200)]
    figures = accounting.after_resend(first, resends, {"a": 1, "b": 1, "c": 1})
    assert figures == {
        "resent": 3,
        "resend_requests": 3,
        "resend_201": 1,
        "resend_200": 2,
        "unanswered_after_resend": 0,
        "missing_after_resend": 0,
        "doubled_after_resend": 0,
        "stored_once": 3,
    }
    assert accounting.after_resend(first, [], {"a": 1})["missing_after_resend"] == 2


def test_it_measures_unavailability_from_the_first_failure_to_the_first_answer_after_the_last():
    outcomes = [
        outcome("a", 201, 0.0, 0.1),
        outcome("b", 500, 1.0, 1.1),
        outcome("c", 0, 2.0, 2.5),
        outcome("d", 201, 1.5, 1.6),  # answered in between: the outage is not over until after the last failure
        outcome("e", 201, 2.6, 3.0),
        outcome("f", 201, 4.0, 4.1),
    ]
    assert accounting.unavailable_seconds(outcomes) == 2.0
    assert accounting.unavailable_seconds([outcome("a", 201)]) == 0.0
    assert accounting.unavailable_seconds([outcome("a", 201, 0, 1), outcome("b", 0, 1, 3)]) == 2.0


def test_it_finds_a_restore_identical_to_its_snapshot_and_names_each_difference():
    snapshot = {
        "counts": {"people_household": 10, "visits_visit": 30},
        "checksums": {"visits": "30:123"},
        "ranking": '[{"rank": 1, "name": "新绛县"}]',
    }
    same = {**snapshot, "ranking": '[{"name": "新绛县", "rank": 1}]'}  # the same JSON, keys in another order
    assert accounting.compare_snapshots(snapshot, same) == []
    restored = {
        "counts": {"people_household": 10, "visits_visit": 29},
        "checksums": {"visits": "29:100"},
        "ranking": '[{"rank": 2, "name": "新绛县"}]',
    }
    assert accounting.compare_snapshots(snapshot, restored) == [
        "checksums.visits: '30:123' ≠ '29:100'",
        "counts.visits_visit: 30 ≠ 29",
        "ranking: 不同",
    ]
    assert accounting.compare_snapshots(snapshot, {**snapshot, "counts": {"people_household": 10}}) == [
        "counts.visits_visit: 30 ≠ None"
    ]


@pytest.fixture
def echo_server():
    """A loopback server that stores each POSTed body and answers 201 (or 503 for bodies naming "fail")."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(json.loads(body)["client_id"])
            self.send_response(503 if b"fail" in body else 201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/m/api/visits/", seen
    server.shutdown()
    server.server_close()


def test_it_sends_each_resent_body_exactly_once_and_records_every_answer(echo_server):
    url, seen = echo_server
    bodies = tuple(json.dumps({"client_id": f"id-{n}"}) for n in range(40)) + ('{"client_id": "fail-1"}',)
    figures = run_python(LoadSpec(url=url, method="POST", bodies=bodies, connections=4, seconds=20, record=True))
    assert sorted(seen) == sorted(json.loads(b)["client_id"] for b in bodies)
    statuses = {o.client_id: o.status for o in figures["outcomes"]}
    assert statuses["fail-1"] == 503 and statuses["id-0"] == 201 and len(statuses) == 41
    assert figures["errors"] == 1


def test_it_records_a_request_nobody_answered_with_status_zero(echo_server):
    url, _ = echo_server
    closed = url.rsplit(":", 1)[0] + ":1/m/api/visits/"
    spec = LoadSpec(
        url=closed, method="POST", body='{"client_id": "{uuid}"}', households=(1,), connections=1, seconds=1
    )
    figures = run_python(LoadSpec(**{**spec.__dict__, "record": True, "max_requests": 3, "error_pause": 0.01}))
    assert [o.status for o in figures["outcomes"]] == [0, 0, 0]
    assert len({o.client_id for o in figures["outcomes"]}) == 3  # each a new visit with its own client id


def test_it_describes_a_server_the_inner_run_can_rebuild(tmp_path, monkeypatch):
    server = Server("primary", "/usr/lib/postgresql/15/bin", str(tmp_path / "p"), 55432, "postgres", str(tmp_path))
    assert Server.from_json(server.to_json()) == server
    assert server.url("drill_city") == "postgres://postgres@127.0.0.1:55432/drill_city"
    assert server.pid() is None and not server.running()
    monkeypatch.setenv("PG_BIN", "/opt/pg/bin")
    assert str(find_bindir()) == "/opt/pg/bin"


def test_it_sizes_the_killed_import_by_the_city():
    assert drill._import_rows(20_000) == 5_000
    assert drill._import_rows(1_000_000) == 100_000
    assert drill._import_rows(3_000_000) == 100_000


RESULT = {
    "date": "2026-12-01T10:00:00+08:00",
    "machine": {"nproc": 2, "database_version": "15.20"},
    "setup": {"households": 20000, "build_city_s": 6.3},
    "cleanup": {"servers_left_running": 0, "folder_removed": True},
    "killed_import": {
        "ok": True,
        "rows": 5000,
        "half_rows": 0,
        "killed_in": "写入数据库",
        "failed_after_cleanup": True,
        "rerun_rows": 5000,
        "rerun_s": 4.2,
        "visits_answered_2xx": 120,
        "visits_lost": 0,
        "visits_doubled": 0,
        "visits_missing_after_resend": 0,
    },
}


def test_it_fails_the_drill_when_a_fault_fails_or_a_server_is_left_running():
    everything = {key: {"ok": True} for key, _ in drill.STEPS}
    assert drill.passed({**everything, "cleanup": {"servers_left_running": 0}})
    assert not drill.passed({**everything, "cleanup": {"servers_left_running": 1}})
    assert not drill.passed({**everything, "backup_restore": {"ok": False}})
    assert not drill.passed(RESULT)  # steps missing


def test_it_writes_the_latest_run_between_its_markers_and_keeps_the_rest(tmp_path):
    path = tmp_path / "drills.md"
    path.write_text(
        "# 故障演练\n\n说明。\n\n<!-- drill:latest:start -->\n上一次的结果\n<!-- drill:latest:end -->\n\n尾注\n"
    )
    drill.write_docs(path, RESULT, "make drill")
    text = path.read_text()
    assert text.startswith("# 故障演练\n\n说明。") and text.rstrip().endswith("尾注")
    assert "上一次的结果" not in text
    assert "| 导入写入数据库时 SIGKILL db_worker | 5,000 行导入在“写入数据库”阶段被杀：留下半截 0 行" in text
    line = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(line)["killed_import"]["half_rows"] == 0
