"""Plain make_* helpers for tests: each builds one valid object with defaults a test can override."""

import datetime as dt
import itertools
import uuid

from django.utils import timezone

from outreach.accounts.models import Role, User
from outreach.campaigns.models import Assignment, Campaign
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import GridArea, Village
from outreach.visits.services import record_visit

_seq = itertools.count(1)
# Households and members made here are on the roster from this day (before every campaign the tests run), so a
# ranking of any test date counts them unless a test dates them itself.
WORLD_START = dt.date(2020, 1, 1)
PASSWORD = "Test-password-2021"


def make_user(role=Role.CITY, username=None, **fields) -> User:
    user = User(username=username or f"user{next(_seq)}", role=role, is_staff=True, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_grid(village: Village, name="第1网格") -> GridArea:
    return GridArea.objects.get_or_create(village=village, name=name)[0]


def make_org(village: Village, name=None) -> PartyOrganization:
    return PartyOrganization.objects.get_or_create(
        county_id=village.county_id,
        name=name or f"{village.short_name}党支部",
        defaults={"town_id": village.town_id, "village": village},
    )[0]


def make_member(village: Village, name=None, phone=None, **fields) -> PartyMember:
    n = next(_seq)
    fields.setdefault("joined_on", WORLD_START)
    return PartyMember.objects.create(
        name=name or f"党员{n}",
        phone=phone if phone is not None else f"139{n:08d}",
        organization=make_org(village),
        county_id=village.county_id,
        **fields,
    )


def make_household(village: Village, grid=None, head_name=None, phone=None, **fields) -> Household:
    n = next(_seq)
    fields.setdefault("address", f"{village.short_name}{n}号")
    fields.setdefault("roster_start", WORLD_START)
    return Household.objects.create(
        head_name=head_name or f"户主{n}",
        phone=phone if phone is not None else f"138{n:08d}",
        village=village,
        grid=grid,
        **fields,
    )


def make_campaign(name="十万党员进百万家", **fields) -> Campaign:
    defaults = {"start_date": dt.date(2021, 7, 1), "end_date": dt.date(2021, 12, 31)}
    defaults.update(fields)
    return Campaign.objects.get_or_create(name=name, defaults=defaults)[0]


def make_running_campaign(name="十万党员进百万家", **fields) -> Campaign:
    """A campaign running today (a month either side), the one the campaign rule takes by default."""
    today = timezone.localdate()
    fields.setdefault("start_date", today - dt.timedelta(days=30))
    fields.setdefault("end_date", today + dt.timedelta(days=30))
    return make_campaign(name, **fields)


def make_assignment(household, member, campaign=None) -> Assignment:
    return Assignment.objects.create(campaign=campaign or make_campaign(), household=household, member=member)


def make_visit(household, visitor=None, campaign=None, fraud_types=(), client_id=None, **fields):
    fields.setdefault("visited_at", timezone.make_aware(dt.datetime(2021, 8, 1, 10, 0)))
    visit, _ = record_visit(
        client_id=client_id or uuid.uuid4(),
        household=household,
        campaign=campaign or make_campaign(),
        visitor=visitor,
        fraud_types=fraud_types,
        **fields,
    )
    return visit
