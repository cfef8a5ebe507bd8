
from django.db import migrations, models


def fit_scope_to_role(apps, schema_editor):
    """Make every account's area fields fit its role before the constraint holds them.

    Extra fields are cleared (a city account's county never narrowed what it reached, it only made the
    account look like a county's); a missing county is taken from the town or zone. An account whose role
    has no area at all (a county admin with no county) cannot be guessed: it is switched off and reported.
    """
    User = apps.get_model("accounts", "User")
    for user in User.objects.filter(is_superuser=False).select_related("town", "zone"):
        before = (user.role, user.county_id, user.town_id, user.zone_id, user.is_active)
        if user.role == "city":
            user.county_id = user.town_id = user.zone_id = None
        elif user.role == "county":
            if user.county_id is None and user.town_id:
                user.county_id = user.town.county_id
            user.town_id = user.zone_id = None
        elif user.role == "town":
            place = user.town or user.zone
            if place is not None and user.county_id is None:
                user.county_id = place.county_id
        else:
            user.zone_id = None
        broken = (user.role == "county" and user.county_id is None) or (
            user.role == "town" and (user.county_id is None or (user.town_id is None and user.zone_id is None))
        )
        if broken:
            # Nothing to scope it by: it reached nothing before, and now cannot log in until an admin fixes it.
            print(f"\n  账号 {user.username}（{user.role}）没有可用的工作范围：已改为党员角色并停用，请核实后重新设置")
            user.role, user.county_id, user.town_id, user.zone_id, user.is_active = "member", None, None, None, False
        if (user.role, user.county_id, user.town_id, user.zone_id, user.is_active) != before:
            if not broken:
                print(f"\n  账号 {user.username}：工作范围已按角色修正 {before[1:4]} → {(user.county_id, user.town_id, user.zone_id)}")
            user.save(update_fields=["role", "county", "town", "zone", "is_active"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_alter_user_options'),
        ('places', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(fit_scope_to_role, migrations.RunPython.noop),
    ]
