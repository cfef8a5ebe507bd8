import datetime as dt

import pytest
from django.core.management import call_command

from outreach.accounts.models import Role, User
from outreach.campaigns.models import Assignment, Campaign
from outreach.people.models import Household, PartyMember
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import Visit

pytestmark = pytest.mark.django_db

MODELS = [Campaign, Household, PartyMember, Assignment, Visit, RegistrationReport, User]


def test_it_seeds_a_demo_once_however_often_it_runs(places, capsys):
    call_command("seed_demo")
    counts = {model: model.objects.count() for model in MODELS}
    call_command("seed_demo")
    assert {model: model.objects.count() for model in MODELS} == counts
    assert counts[Household] > 1000
    assert counts[Visit] > 500
    for campaign in Campaign.objects.all():  # 2021's drive, kept as history, and the one running now
        assert campaign.assignments.count() == Household.objects.count()
    out = capsys.readouterr().out
    assert "demo_county" in out and "Fanzha-2021" in out


def test_it_seeds_xinjiang_bulletin_of_13_august(places):
    call_command("seed_demo", verbosity=0)
    report = RegistrationReport.objects.get(county=places.xinjiang, town=None, as_of=dt.date(2021, 8, 13))
    assert (report.registered, report.verified) == (62113, 49213)
    assert RegistrationReport.objects.values("as_of").distinct().count() >= 3


def test_it_creates_one_login_per_role_that_can_open_the_admin(places, client):
    call_command("seed_demo", verbosity=0)
    assert set(User.objects.filter(username__startswith="demo_").values_list("role", flat=True)) == set(Role.values)
    for user in User.objects.filter(username__startswith="demo_"):
        assert client.login(username=user.username, password="Fanzha-2021")
        response = client.get("/admin/")
        assert response.status_code == 200
        assert "反诈包联 管理后台" in response.content.decode()
        client.logout()


def test_it_spreads_visits_over_several_weeks(places):
    call_command("seed_demo", verbosity=0)
    days = {v.date() for v in Visit.objects.values_list("visited_at", flat=True)}
    assert max(days) - min(days) >= dt.timedelta(days=21)
    assert Visit.objects.filter(is_qualified=True).exists()
    assert Visit.objects.filter(is_qualified=False).exists()


def test_a_newcomers_visit_today_shows_in_the_ranking_they_open(places, client, settings):
    """The demo's story: 2021's drive is history; a drive runs now, so a visit recorded today counts in the
    rankings that open by default (today's date, the running campaign)."""
    import json

    from django.utils import timezone

    from outreach.demo.services import CURRENT_NAME
    from tests.test_mobile import payload

    settings.DASHBOARD_REFRESH_GRACE_SECONDS = 0
    call_command("seed_demo", verbosity=0)
    current = Campaign.objects.get(name=CURRENT_NAME)
    member = User.objects.get(username="demo_member").party_member
    household = (
        Household.objects.filter(assignments__member=member, assignments__campaign=current)
        .exclude(visits__campaign=current)
        .first()
    )
    from django.test import Client

    clerk = Client()
    clerk.login(username="demo_county", password="Fanzha-2021")
    client.login(username="demo_member", password="Fanzha-2021")
    ranking_url = f"/dashboard/rank/town/{places.xinjiang.pk}/?metric=visit_rate"

    def visited_in_town():
        page = clerk.get(ranking_url)
        assert page.status_code == 200, (page.status_code, page.content[:300])
        row = next(r for r in page.context["table"].data if r["name"] == household.town.name)
        return page.context["result"].as_of, row["visited"]

    as_of, before = visited_in_town()
    assert as_of == timezone.localdate()
    body = payload(household, notes="新来的同志第一次入户")
    response = client.post("/m/api/visits/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    assert Visit.objects.get(client_id=body["client_id"]).campaign == current
    assert visited_in_town() == (as_of, before + 1)
