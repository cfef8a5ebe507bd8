"""python manage.py dataio_bench STEP: build a big 责任分工表, or time its import or export (one step a process)."""

import json

from django.core.management.base import BaseCommand

from outreach.dataio import bench


class Command(BaseCommand):
    help = (
        "测量导入导出速度：build 生成N行责任分工表；import 导入并计时；export 导出并计时；"
        "floor-read 只用 python-calamine 读完文件；floor-copy 用一次 COPY 写入 --rows 行住户（回滚）；"
        "floor-export 用导出的同一查询、一个服务器端游标直接写入 xlsxwriter。"
        "每一步单独运行一个进程，峰值内存才准确。会向当前数据库写入数据，只在测试库上运行。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "step", choices=["build", "import", "export", "floor-read", "floor-copy", "floor-write", "floor-export"]
        )
        parser.add_argument("--file", required=True, help="生成或读取的 .xlsx 文件")
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--county", default="140825000000", help="县（市、区）代码，默认新绛县")
        parser.add_argument("--kind", default="responsibility")

    def handle(self, *args, **opts):
        if opts["step"] == "build":
            bench.build_responsibility_xlsx(opts["file"], opts["rows"], county_code=opts["county"])
            result = {"built": opts["file"], "rows": opts["rows"], "peak_mb": bench.peak_mb()}
        elif opts["step"] == "import":
            result = bench.time_import(opts["file"], kind=opts["kind"], county=opts["county"])
        elif opts["step"] == "export":
            result = bench.time_export(opts["file"], kind=opts["kind"], county=opts["county"])
        elif opts["step"] == "floor-read":
            result = bench.time_read_floor(opts["file"])
        elif opts["step"] == "floor-copy":
            result = bench.time_copy_floor(opts["rows"], county=opts["county"])
        elif opts["step"] == "floor-write":
            result = bench.time_write_floor(opts["rows"], county=opts["county"])
        else:
            result = bench.time_export_floor(opts["file"], county=opts["county"])
        self.stdout.write(json.dumps(result, ensure_ascii=False))
