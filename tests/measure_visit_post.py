"""Measures the app CPU of a phone's visit POST in-process (not collected by the suite: run it by name).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test TEST_DATABASE_NAME=test_<name> DJANGO_DEBUG=1 \\
        .venv/bin/pytest -q -s -p no:cacheprovider tests/measure_visit_post.py

``test_visit_post`` sends visits through ``django.test.Client`` (session login, the whole middleware stack,
a fresh client id each) and prints this process's CPU time per POST (``time.process_time``: the database
server is another process and not counted) and the queries per POST. ``test_visit_checks`` times
``submit_visit`` alone with the write (``record_visit``) left out. Both print the median and the best of
``ROUNDS`` rounds of ``VISIT_CPU_POSTS`` (default 100).

On a busy machine the rounds vary by more than a change costs, so a comparison runs in one process with
the rounds interleaved: ``VISIT_CPU_COMPARE=<file>`` loads another version of ``outreach/mobile/services.py``
(``git show main:outreach/mobile/services.py > /tmp/main_services.py``) and alternates it with this
checkout's, the view calling whichever is in turn.
"""

import importlib.util
import json
import os
import statistics
import time
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outreach.mobile import services, views
from outreach.people.models import Resident
from outreach.visits.models import FraudType
from tests.factories import PASSWORD, make_household, make_running_campaign

pytestmark = pytest.mark.django_db

POSTS = int(os.environ.get("VISIT_CPU_POSTS", "100"))
ROUNDS = 12
WARM_UP_ROUNDS = 2
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _versions() -> dict:
    """This checkout's ``mobile.services``, and the one named by ``VISIT_CPU_COMPARE`` if any."""
    found = {"this checkout": services}
    other = os.environ.get("VISIT_CPU_COMPARE")
    if other:
        spec = importlib.util.spec_from_file_location("compared_mobile_services", other)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found[other] = module
    return found


def _body(household, scripts, full: bool) -> dict:
    body = {
        "client_id": str(uuid.uuid4()),
        "household": household.pk,
        "visited_at": timezone.now().isoformat(),
        "entered": True,
        "met_person": True,
        "explained": True,
        "signed": full,
        "fraud_types": scripts[:2] if full else scripts[:1],
        "left_pledge": full,
        "notes": "讲了刷单",
    }
    if full:
        body["signature"] = PNG
        body["residents"] = [{"id": pk, "app_installed": True} for pk in household.resident_ids]
        body["extra"] = {"app_installed": 1}
    return body


def _world(places):
    make_running_campaign()
    households = []
    for _ in range(50):
        household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
        household.resident_ids = [Resident.objects.create(household=household, name=n).pk for n in ("甲", "乙")]
        households.append(household)
    return households, list(FraudType.objects.values_list("pk", flat=True))


def _interleaved(versions: dict, one_round) -> dict:
    """``one_round(module)`` → ms per item, alternating the versions' order; the warm-up rounds are dropped."""
    spent = {name: [] for name in versions}
    for round_no in range(WARM_UP_ROUNDS + ROUNDS):
        order = list(versions.items()) if round_no % 2 else list(versions.items())[::-1]
        for name, module in order:
            ms = one_round(module)
            if round_no >= WARM_UP_ROUNDS:
                spent[name].append(ms)
    return spent


def _report(title: str, spent: dict, extra=None):
    for name, values in spent.items():
        print(
            f"\n{connection.vendor} {title} [{name}]: {POSTS} × {len(values)} rounds, CPU median "
            f"{statistics.median(values):.2f} ms, best {min(values):.2f} ms{extra(name) if extra else ''}"
        )


@pytest.mark.parametrize("full", [False, True], ids=["plain", "signature+residents"])
def test_visit_post(users, places, settings, tmp_path, monkeypatch, full):
    settings.MEDIA_ROOT = tmp_path
    households, scripts = _world(places)
    client = Client()
    assert client.login(username=users.grid.username, password=PASSWORD)
    queries = {}

    def one_round(module):
        monkeypatch.setattr(views, "services", module)
        bodies = [json.dumps(_body(households[n % 50], scripts, full)) for n in range(POSTS)]
        connection.queries_log.clear()  # the log keeps 9,000 queries: count from an empty one
        with CaptureQueriesContext(connection) as captured:
            start = time.process_time()
            for body in bodies:
                response = client.post("/m/api/visits/", data=body, content_type="application/json")
                assert response.status_code == 201, response.content
            spent = time.process_time() - start
        queries[module] = len(captured) / POSTS  # the last round's: the residents change on a first visit only
        return spent / POSTS * 1000

    versions = _versions()
    spent = _interleaved(versions, one_round)
    _report(
        f"POST {'signature+residents' if full else 'plain'}",
        spent,
        lambda name: f", {queries[versions[name]]:.1f} queries per POST",
    )


def test_visit_checks(users, places, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    households, scripts = _world(places)
    versions = _versions()
    for module in versions.values():
        monkeypatch.setattr(module, "record_visit", lambda **fields: (None, True))
    user = type(users.grid).objects.get(pk=users.grid.pk)

    def one_round(module):
        bodies = [_body(households[n % 50], scripts, False) for n in range(POSTS)]
        start = time.process_time()
        for body in bodies:
            module.submit_visit(user, body)
        return (time.process_time() - start) / POSTS * 1000

    _report("checks only (submit_visit without record_visit)", _interleaved(versions, one_round))
