from django.db import migrations, models

from outreach.lib.append_only import append_only_triggers


def _reinstalled(model_name):
    """The append-only triggers dropped before and installed again after a change of the table (SQLite
    rebuilds a table to add a column, which loses its triggers)."""
    triggers = append_only_triggers("dashboards", model_name)
    return migrations.RunPython(triggers.reverse_code, triggers.code), triggers


drop, install = _reinstalled("Bulletin")


class Migration(migrations.Migration):
    """主送 and 抄送 of a bulletin, editable in the draft and frozen with it."""

    dependencies = [
        ("dashboards", "0002_bulletin_append_only"),
    ]

    operations = [
        drop,
        migrations.AddField(
            model_name="bulletin",
            name="copy_to",
            field=models.CharField(blank=True, max_length=300, verbose_name="抄送"),
        ),
        migrations.AddField(
            model_name="bulletin",
            name="main_recipients",
            field=models.CharField(blank=True, max_length=300, verbose_name="主送"),
        ),
        install,
    ]
