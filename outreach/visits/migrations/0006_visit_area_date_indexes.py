import django.db.models.deletion
from django.db import migrations, models

# The foreign keys' own one-column indexes go (the new indexes start with the same column). Only the index is
# dropped: AlterField would also drop and re-add each foreign-key constraint, re-checking three million rows.
FK_INDEXES = {
    "county": ("visits_visit_county_id_7a955fe3", "places.county", "县（市、区）"),
    "town": ("visits_visit_town_id_e9af1ea0", "places.town", "乡镇（街道）"),
    "grid": ("visits_visit_grid_id_8456a5c6", "places.gridarea", "网格"),
}


def _without_fk_index(name):
    index, to, verbose_name = FK_INDEXES[name]
    nullable = {"blank": True, "null": True} if name == "grid" else {}
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name="visit",
                name=name,
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=to,
                    verbose_name=verbose_name,
                    **nullable,
                ),
            )
        ],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "visits_visit" ("{name}_id")',
            )
        ],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("places", "0002_population_basis_and_log"),
        ("visits", "0005_visit_integrity"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(fields=["county", "visited_at"], name="visit_county_date_idx"),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(fields=["town", "visited_at"], name="visit_town_date_idx"),
        ),
        migrations.AddIndex(
            model_name="visit",
            index=models.Index(fields=["grid", "visited_at"], name="visit_grid_date_idx"),
        ),
        *(_without_fk_index(name) for name in FK_INDEXES),
    ]
