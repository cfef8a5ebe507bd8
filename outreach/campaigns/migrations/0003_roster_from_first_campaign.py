from django.db import migrations
from django.db.models import Min


def back_to_first_campaign(apps, schema_editor):
    """Until roster dates existed every ranking, of any past day, counted today's whole roster. Dating the
    households and members already stored from the first campaign's start (or their creation, if earlier)
    keeps every figure a past ranking showed the same after the upgrade; later additions then count only
    from the day they are added."""
    first = apps.get_model("campaigns", "Campaign").objects.aggregate(d=Min("start_date"))["d"]
    if first is None:
        return
    apps.get_model("people", "Household").objects.filter(roster_start__gt=first).update(roster_start=first)
    apps.get_model("people", "PartyMember").objects.filter(joined_on__gt=first).update(joined_on=first)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_alter_assignment_options_historicalassignment"),
        ("people", "0006_roster_dates"),
    ]

    operations = [migrations.RunPython(back_to_first_campaign, migrations.RunPython.noop)]
