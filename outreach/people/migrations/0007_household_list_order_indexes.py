import django.db.models.deletion
from django.db import migrations, models

# The foreign keys' own one-column indexes go (the new indexes start with the same column). Only the index is
# dropped: AlterField would also drop and re-add each foreign-key constraint, re-checking a million rows.
FK_INDEXES = {
    "county": "people_household_county_id_7cd2c625",
    "town": "people_household_town_id_2058636a",
    "village": "people_household_village_id_8a539702",
}
TARGETS = {
    "county": ("places.county", "县（市、区）"),
    "town": ("places.town", "乡镇（街道）"),
    "village": ("places.village", "村（社区）"),
}


def _without_fk_index(name):
    to, verbose_name = TARGETS[name]
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name="household",
                name=name,
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="households",
                    to=to,
                    verbose_name=verbose_name,
                ),
            )
        ],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{FK_INDEXES[name]}"',
                reverse_sql=f'CREATE INDEX "{FK_INDEXES[name]}" ON "people_household" ("{name}_id")',
            )
        ],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0006_roster_dates"),
        ("places", "0002_population_basis_and_log"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="household",
            index=models.Index(fields=["village", "id"], name="household_village_order_idx"),
        ),
        migrations.AddIndex(
            model_name="household",
            index=models.Index(fields=["town", "village", "id"], name="household_town_order_idx"),
        ),
        migrations.AddIndex(
            model_name="household",
            index=models.Index(fields=["county", "village", "id"], name="household_county_order_idx"),
        ),
        *(_without_fk_index(name) for name in FK_INDEXES),
    ]
