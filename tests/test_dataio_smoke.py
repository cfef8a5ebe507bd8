from pathlib import Path

from outreach.dataio.services import import_file
from outreach.people.models import Household, PartyMember
from tests import factories

SAMPLE = Path(__file__).parent / "data" / "稷山县_责任分工表_示例.xlsx"


def test_it_smoke(places):
    factories.make_campaign()
    report = import_file("responsibility", SAMPLE)
    print(report.as_json())
    assert report.written
    assert Household.objects.count() == 108
    assert PartyMember.objects.count() == 12
    again = import_file("responsibility", SAMPLE)
    print(again.as_json())
    assert again.unchanged == 108
