"""The read-replica router: only the dashboard pages' GET reads go to the replica, never logins or writes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction
from django.test import RequestFactory

from outreach.accounts.models import User
from outreach.lib import replica
from outreach.visits.models import Visit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    monkeypatch.setattr(replica, "replica_available", lambda: True)  # tests/test_drill_replica.py probes for real


def route(method, path, model):
    """The database the router picks for reading ``model`` while serving ``method path``."""
    chosen = {}

    def view(request):
        chosen["db"] = replica.ReplicaRouter().db_for_read(model)
        return None

    request = getattr(RequestFactory(), method.lower())(path)
    replica.ReplicaReadMiddleware(view)(request)
    return chosen["db"]


def test_it_reads_dashboard_pages_from_the_replica(with_replica):
    assert route("GET", "/dashboard/rank/county/", Visit) == "replica"


def test_it_keeps_logins_sessions_and_users_on_the_primary(with_replica):
    assert route("GET", "/dashboard/rank/county/", User) is None


def test_it_keeps_every_other_page_and_every_post_on_the_primary(with_replica):
    assert route("GET", "/admin/people/household/", Visit) is None
    assert route("POST", "/dashboard/bulletins/issue/", Visit) is None
    assert replica.ReplicaRouter().db_for_read(Visit) is None  # outside any request
    assert replica.ReplicaRouter().db_for_write(Visit) == "default"


def test_it_uses_the_primary_when_no_replica_is_configured():
    assert route("GET", "/dashboard/rank/county/", Visit) is None


def test_it_never_migrates_the_replica():
    router = replica.ReplicaRouter()
    assert router.allow_migrate("replica", "visits") is False
    assert router.allow_migrate("default", "visits") is True


def test_it_adds_the_replica_router_only_when_a_replica_url_is_given():
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'outreach.settings'); django.setup();"
        "from django.conf import settings as s;"
        "print(sorted(s.DATABASES), s.DATABASE_ROUTERS, s.MIDDLEWARE[-1], s.DATABASES.get('replica', {}).get('NAME'))"
    )
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u@127.0.0.1:5432/primary"}
    without = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert without.stdout.startswith("['default'] []"), without.stderr
    env["DATABASE_REPLICA_URL"] = "postgres://u@10.0.0.2:5432/primary"
    with_url = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert with_url.stdout.split() == [
        "['default',",
        "'replica']",
        "['outreach.lib.replica.ReplicaRouter']",
        "outreach.lib.replica.ReplicaReadMiddleware",
        "primary",
    ], with_url.stderr


@pytest.mark.django_db
def test_it_reads_inside_a_transaction_from_the_primary(with_replica):
    # A refresh of the summaries reads and writes in one transaction: its reads must see its own writes.
    with transaction.atomic():
        assert route("GET", "/dashboard/rank/county/", Visit) is None
