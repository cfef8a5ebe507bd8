import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from outreach.lib.append_only import append_only_triggers

# SQLite rebuilds a table to add a column, which loses its triggers: drop them first, install them again after.
bulletin_triggers = append_only_triggers("dashboards", "Bulletin")


class Migration(migrations.Migration):
    """主送, 抄送 and 上期督办整改情况 of a bulletin; 督办单 and their append-only steps."""

    dependencies = [
        ('dashboards', '0002_bulletin_append_only'),
        ('places', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(bulletin_triggers.reverse_code, bulletin_triggers.code),
        migrations.AddField(
            model_name='bulletin',
            name='copy_to',
            field=models.CharField(blank=True, max_length=300, verbose_name='抄送'),
        ),
        migrations.AddField(
            model_name='bulletin',
            name='main_recipients',
            field=models.CharField(blank=True, max_length=300, verbose_name='主送'),
        ),
        migrations.AddField(
            model_name='bulletin',
            name='supervision_report',
            field=models.JSONField(blank=True, default=list, help_text='签发时上期督办单的状态和回复日期', verbose_name='上期督办整改情况'),
        ),
        migrations.CreateModel(
            name='SupervisionOrder',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('unit_name', models.CharField(max_length=60, verbose_name='督办单位')),
                ('reason', models.CharField(choices=[('streak', '连续排名后三'), ('manual', '人工督办')], max_length=10, verbose_name='督办原因')),
                ('reason_text', models.CharField(max_length=300, verbose_name='原因说明')),
                ('deadline', models.DateField(verbose_name='整改期限')),
                ('state', models.CharField(choices=[('waiting', '待签收'), ('signed', '已签收'), ('replied', '已回复'), ('closed', '已办结'), ('returned', '退回')], default='waiting', max_length=10, verbose_name='状态')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='督办时间')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间')),
                ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='须回复人')),
                ('bulletin', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='dashboards.bulletin', verbose_name='来源通报')),
                ('county', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='places.county', verbose_name='县（市、区）')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='督办人')),
                ('town', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='places.town', verbose_name='乡镇（街道）')),
                ('village', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='places.village', verbose_name='村（社区）')),
            ],
            options={
                'verbose_name': '督办单',
                'verbose_name_plural': '督办单',
                'ordering': ['-created_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='SupervisionStep',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('waiting', '待签收'), ('signed', '已签收'), ('replied', '已回复'), ('closed', '已办结'), ('returned', '退回')], max_length=10, verbose_name='状态')),
                ('at', models.DateTimeField(auto_now_add=True, verbose_name='时间')),
                ('text', models.TextField(blank=True, verbose_name='整改措施或意见')),
                ('attachment', models.FileField(blank=True, upload_to='supervision/%Y/%m/', verbose_name='附件')),
                ('late', models.BooleanField(default=False, verbose_name='逾期办理')),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='操作人')),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='steps', to='dashboards.supervisionorder', verbose_name='督办单')),
            ],
            options={
                'verbose_name': '督办记录',
                'verbose_name_plural': '督办记录',
                'ordering': ['order_id', 'at', 'pk'],
            },
        ),
        migrations.AddIndex(
            model_name='supervisionorder',
            index=models.Index(fields=['county', 'state'], name='supervision_county_state_idx'),
        ),
        bulletin_triggers,
        append_only_triggers("dashboards", "SupervisionStep", nullable_fk="actor_id"),
    ]
