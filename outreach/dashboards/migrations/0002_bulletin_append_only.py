from django.db import migrations

from outreach.lib.append_only import append_only_triggers


class Migration(migrations.Migration):
    """The database itself refuses UPDATE and DELETE on issued bulletins and their lines."""

    dependencies = [
        ("dashboards", "0001_initial"),
    ]

    operations = [
        append_only_triggers("dashboards", "Bulletin"),
        append_only_triggers("dashboards", "BulletinLine"),
    ]
