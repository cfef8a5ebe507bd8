from django.db import migrations

FRAUD_TYPES = [
    "刷单返利",
    "虚假投资理财",
    "虚假网络贷款",
    "冒充电商物流客服",
    "冒充公检法",
    "冒充领导熟人",
    "网络游戏产品虚假交易",
    "网络婚恋交友",
    "虚假征信",
    "兼职招聘",
]


def seed(apps, schema_editor):
    FraudType = apps.get_model("visits", "FraudType")
    for order, name in enumerate(FRAUD_TYPES, start=1):
        FraudType.objects.get_or_create(name=name, defaults={"sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("visits", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
