"""A replica that dies never shows as an error page: dashboards fall back to the primary and come back later.

``make drill`` stops a real streaming replica under load; these tests hold the same behaviour with a replica
alias that cannot be reached (a closed port, a missing file) or that answers but fails its queries.
"""

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection, connections
from django.test import RequestFactory
from django.urls import reverse

from outreach.lib import replica
from outreach.visits.models import Visit

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = connection.vendor == "postgresql"
# The alias exists for this module only, before each test starts: Django's test cases refuse aliases outside
# their ``databases``. As a mirror of the test database it gets no test database of its own, and a transactional
# test case opens nothing on it (a TestCase would open a transaction on it, and so connect, before the test).
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", replica.REPLICA])


@pytest.fixture(scope="module", autouse=True)
def _replica_alias():
    connections.databases[replica.REPLICA] = _settings({})
    yield
    _forget()
    connections.databases.pop(replica.REPLICA, None)


def _settings(changes: dict) -> dict:
    entry = copy.deepcopy(connections.databases["default"])
    entry.update(changes, TEST={"MIRROR": "default"})
    return entry


def _forget():
    connections[replica.REPLICA].close()
    del connections[replica.REPLICA]


@pytest.fixture
def replica_at(settings, monkeypatch):
    """``point(**changes)``: the replica becomes the test database's settings with ``changes``."""
    settings.DATABASE_ROUTERS = ["outreach.lib.replica.ReplicaRouter"]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "outreach.lib.replica.ReplicaReadMiddleware"]
    settings.REPLICA_RETRY_SECONDS = 30
    monkeypatch.setattr(replica, "_down_until", 0.0)

    def point(**changes):
        _forget()
        connections.databases[replica.REPLICA] = _settings(changes)

    yield point
    _forget()


def dead(tmp_path) -> dict:
    """Settings of a replica nobody answers: a closed port, or an SQLite file in a folder that does not exist."""
    return {"PORT": "1"} if POSTGRES else {"NAME": str(tmp_path / "missing" / "replica.sqlite3")}


def tableless(tmp_path) -> dict:
    """A replica that connects but has none of the app's tables (its queries fail)."""
    return {"NAME": "postgres"} if POSTGRES else {"NAME": str(tmp_path / "empty.sqlite3")}


def route(path="/dashboard/rank/county/", method="GET"):
    chosen = {}

    def view(request):
        chosen["db"] = replica.ReplicaRouter().db_for_read(Visit)

    request = getattr(RequestFactory(), method.lower())(path)
    replica.ReplicaReadMiddleware(view)(request)
    return chosen["db"]


def test_it_sends_dashboard_reads_to_a_replica_that_answers(replica_at, tmp_path):
    replica_at(**tableless(tmp_path))
    assert route() == "replica"
    assert not replica.replica_down()


def test_it_falls_back_to_the_primary_when_the_replica_is_down_and_leaves_it_alone(replica_at, tmp_path, monkeypatch):
    replica_at(**dead(tmp_path))
    assert route() is None
    assert replica.replica_down()
    probes = []
    monkeypatch.setattr(connections[replica.REPLICA], "ensure_connection", lambda: probes.append(1))
    assert route() is None
    assert probes == []  # within REPLICA_RETRY_SECONDS nothing is tried


def test_it_returns_to_the_replica_once_it_answers_again(replica_at, tmp_path, settings):
    settings.REPLICA_RETRY_SECONDS = 0.2
    replica_at(**dead(tmp_path))
    assert route() is None
    replica_at(**tableless(tmp_path))  # the replica is back
    assert route() is None  # still inside the retry interval
    time.sleep(0.25)
    assert route() == "replica"


def test_it_serves_the_ranking_page_with_no_error_when_the_replica_is_down(client, users, replica_at, tmp_path):
    replica_at(**dead(tmp_path))
    client.force_login(users.city)
    response = client.get(reverse("dashboards:county_ranking"))
    assert response.status_code == 200
    assert "新绛县" in response.content.decode()
    assert replica.replica_down()


def test_it_reads_the_page_again_from_the_primary_when_the_replica_fails_mid_request(
    client, users, replica_at, tmp_path
):
    replica_at(**tableless(tmp_path))  # connects, so the request is marked; then its queries fail
    client.force_login(users.city)
    response = client.get(reverse("dashboards:county_ranking"))
    assert response.status_code == 200
    assert "新绛县" in response.content.decode()
    assert not replica.replica_down()  # it answers: the next page tries it again


def test_it_leaves_errors_outside_replica_reads_alone():
    middleware = replica.ReplicaReadMiddleware(lambda request: None)
    request = RequestFactory().post("/dashboard/bulletins/issue/")
    assert middleware.process_exception(request, OperationalError("primary down")) is None


def test_it_bounds_the_connect_time_of_a_postgresql_replica():
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'outreach.settings'); django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['replica']['OPTIONS']['connect_timeout'], s.REPLICA_RETRY_SECONDS)"
    )
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/primary",
        "DATABASE_REPLICA_URL": "postgres://u@10.0.0.2:5432/primary",
        "REPLICA_CONNECT_TIMEOUT": "3",
    }
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert completed.stdout.split() == ["3", "5"], completed.stderr
