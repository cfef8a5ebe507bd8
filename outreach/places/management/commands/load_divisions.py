from django.core.management.base import BaseCommand

from outreach.places.services import load_divisions


class Command(BaseCommand):
    help = (
        "载入运城市的县、乡镇、村（社区）（国家统计局2023年统计用区划代码）和2020年人口普查常住人口。"
        "按代码新增或更新，可重复运行；没有来源的人口（垣曲县）留空，已手工填写的不会被清除。"
    )

    def handle(self, *args, **options):
        result = load_divisions()
        if options["verbosity"]:
            self.stdout.write(
                f"已载入：{result.counties} 个县（市、区），{result.towns} 个乡镇级单位，"
                f"{result.villages} 个村（社区），{result.populations} 个县有常住人口"
            )
