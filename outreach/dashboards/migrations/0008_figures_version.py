"""A number that moves on every write to a table the rankings are computed from (PostgreSQL): the key under which
a process keeps a ranking it computed (``outreach.dashboards.ranking_cache``). A statement-level trigger per table, so
every writer moves it (the ORM, COPY, a bulk UPDATE, TRUNCATE) at the cost of one ``nextval`` per statement, and
a sequence, never locked or rolled back, so writers never wait for each other on it. SQLite keeps no rankings."""

from django.db import migrations

# The tables ``queries.ranking`` reads below the grid level; tests/test_figures_cache.py checks the list against
# the SQL of every ranking.
SOURCES = [
    "dashboards_villagedaysummary",
    "dashboards_organizationdaysummary",
    "registrations_registrationreport",
    "campaigns_campaign",
    "campaigns_campaign_counties",
    "places_county",
    "places_town",
    "places_village",
    "places_zone",
    "places_zone_towns",
    "people_partyorganization",
    "people_rostercorrection",
]

FUNCTION = """
CREATE FUNCTION dashboards_figures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('dashboards_figures_version');
    RETURN NULL;
END
$$
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE dashboards_figures_version")
        cursor.execute(FUNCTION)
        for table in SOURCES:
            for event in ("INSERT OR UPDATE OR DELETE", "TRUNCATE"):
                name = f"{table}_figures_{'truncate' if event == 'TRUNCATE' else 'write'}"
                cursor.execute(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION dashboards_figures_changed()"
                )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in SOURCES:
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_figures_write ON {table}")
            cursor.execute(f"DROP TRIGGER IF EXISTS {table}_figures_truncate ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS dashboards_figures_changed()")
        cursor.execute("DROP SEQUENCE IF EXISTS dashboards_figures_version")


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0007_supervision_step_late_label"),
        ("registrations", "0002_alter_registrationreport_options"),
        ("campaigns", "0004_campaign_exclude_flagged"),
        ("places", "0002_population_basis_and_log"),
        ("people", "0007_household_list_order_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
