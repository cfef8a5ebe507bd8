from django.db import migrations, models


class Migration(migrations.Migration):
    """The rule itself, after 0004 made every row fit it (a separate transaction: PostgreSQL refuses to alter
    a table with pending trigger events from the rows just updated)."""

    dependencies = [
        ("accounts", "0004_fit_user_scope_to_role"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='user',
            constraint=models.CheckConstraint(condition=models.Q(('is_superuser', True), models.Q(('county__isnull', True), ('role', 'city'), ('town__isnull', True), ('zone__isnull', True)), models.Q(('county__isnull', False), ('role', 'county'), ('town__isnull', True), ('zone__isnull', True)), models.Q(('county__isnull', False), ('role', 'town'), models.Q(('town__isnull', False), ('zone__isnull', False), _connector='OR')), models.Q(('role', 'grid'), ('zone__isnull', True)), models.Q(('role', 'member'), ('zone__isnull', True)), _connector='OR'), name='user_scope_matches_role', violation_error_message='工作范围与角色不符：市级管理员不填县、乡镇、片区；县级管理员只填县；乡镇管理员填县和乡镇（或片区）；网格员和党员不填片区'),
        ),
    ]
