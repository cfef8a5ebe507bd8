from django.db import migrations

from outreach.lib.append_only import append_only_triggers


class Migration(migrations.Migration):
    """The database itself refuses UPDATE and DELETE on the access log (but a deleted login's NULL)."""

    dependencies = [
        ("accounts", "0005_user_scope_matches_role"),
    ]

    operations = [
        append_only_triggers("accounts", "AccessLog", nullable_fk="user_id"),
    ]
