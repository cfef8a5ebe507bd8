import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from outreach.campaigns.models import Assignment
from outreach.people.models import Household
from outreach.registrations.models import RegistrationReport
from tests.factories import make_assignment, make_campaign, make_household, make_member

pytestmark = pytest.mark.django_db


def test_it_copies_county_and_town_from_the_village(places):
    household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    assert household.county == places.xinjiang
    assert household.town == places.longxing


def test_it_allows_one_responsible_member_per_household_per_campaign(places):
    household = make_household(places.zhouzhuang)
    make_assignment(household, make_member(places.zhouzhuang))
    with pytest.raises(IntegrityError), transaction.atomic():
        make_assignment(household, make_member(places.zhouzhuang))
    other = make_campaign(name="第二轮", start_date=dt.date(2022, 1, 1), end_date=dt.date(2022, 3, 1))
    make_assignment(household, make_member(places.zhouzhuang), campaign=other)
    assert Assignment.objects.filter(household=household).count() == 2


def test_it_explains_the_assignment_clash_in_chinese(places):
    household = make_household(places.zhouzhuang)
    first = make_assignment(household, make_member(places.zhouzhuang))
    clash = Assignment(campaign=first.campaign, household=household, member=make_member(places.zhouzhuang))
    with pytest.raises(ValidationError, match="已有包联党员"):
        clash.validate_constraints()


def test_it_keeps_one_report_per_county_and_date(places):
    day = dt.date(2021, 8, 13)
    RegistrationReport.objects.create(county=places.xinjiang, as_of=day, registered=62113, verified=49213)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationReport.objects.create(county=places.xinjiang, as_of=day, registered=1, verified=1)
    # A town's line of the same date is a different area.
    RegistrationReport.objects.create(
        county=places.xinjiang, town=places.longxing, as_of=day, registered=9000, verified=7000
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationReport.objects.create(
            county=places.xinjiang, town=places.longxing, as_of=day, registered=1, verified=1
        )


def test_it_refuses_more_verified_than_registered(places):
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationReport.objects.create(county=places.xinjiang, as_of=dt.date(2021, 8, 1), registered=10, verified=11)


def test_it_refuses_a_campaign_ending_before_it_starts(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_campaign(name="坏日期", start_date=dt.date(2021, 8, 1), end_date=dt.date(2021, 7, 1))


def test_it_refuses_an_empty_household(places):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_household(places.zhouzhuang, size=0)


def test_it_keeps_phone_numbers_out_of_names_shown_in_logs(places):
    household = make_household(places.zhouzhuang, phone="13812345678")
    assert "1381" not in str(household)
    assert Household.objects.get(pk=household.pk).phone == "13812345678"
