"""Existing flags rolled up into ``Visit.integrity`` (待核查 over 确认有误 over 确认无误), as ``sync_integrity`` does."""

from django.db import migrations


def roll_up(apps, schema_editor):
    Visit = apps.get_model("visits", "Visit")
    IntegrityFlag = apps.get_model("mobile", "IntegrityFlag")
    # The weakest first, so a stronger status written later wins.
    for status in ("cleared", "confirmed", "open"):
        Visit.objects.filter(pk__in=IntegrityFlag.objects.filter(status=status).values("visit_id")).update(
            integrity=status
        )


class Migration(migrations.Migration):
    dependencies = [
        ("mobile", "0002_pending_integrity_check"),
        ("visits", "0005_visit_integrity"),
    ]

    operations = [migrations.RunPython(roll_up, migrations.RunPython.noop)]
