"""python manage.py import_table KIND FILE: the same import as the admin's 导入 button."""

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from outreach.accounts.models import User
from outreach.dataio.columns import KINDS
from outreach.dataio.readers import UploadRefused
from outreach.dataio.services import import_file


class Command(BaseCommand):
    help = (
        "导入表格（责任分工表 responsibility、住户 households、党员 members、App注册通报 registrations）。"
        "先检查全部行：任何一行有错就不写入，并列出“工作表 第N行 列：错误”；没有错误时在一个事务中写入。"
        "同一文件重复导入不会产生重复数据。退出码：写入成功（或检查通过的 --dry-run）为 0，被拒绝为 1。"
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(KINDS))
        parser.add_argument("file")
        parser.add_argument("--county", help="县（市、区）的代码或名称；不给时取表格标题中的县名")
        parser.add_argument("--date", help="通报数据日期 YYYY-MM-DD；不给时取标题中的日期")
        parser.add_argument("--campaign", help="活动名称；不给时取标题中的活动或最近的活动")
        parser.add_argument("--user", help="以该用户的身份和管辖范围导入（写入访问记录）")
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出结果")

    def handle(self, *args, **opts):
        as_of = None
        if opts["date"]:
            try:
                as_of = dt.date.fromisoformat(opts["date"])
            except ValueError as exc:
                raise CommandError("--date 须为 YYYY-MM-DD") from exc
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"没有用户“{opts['user']}”")
        try:
            report = import_file(
                opts["kind"],
                opts["file"],
                user=user,
                county=opts["county"],
                as_of=as_of,
                campaign=opts["campaign"],
                dry_run=opts["dry_run"],
            )
        except (UploadRefused, FileNotFoundError) as exc:
            message = str(exc) if isinstance(exc, UploadRefused) else f"找不到文件：{opts['file']}"
            if opts["json"]:
                self.stdout.write(json.dumps({"rows": 0, "new": 0, "updated": 0, "unchanged": 0, "errors": [
                    {"sheet": "", "row": 0, "column": "", "message": message}]}, ensure_ascii=False))  # fmt: skip
            else:
                self.stderr.write(message)
            sys.exit(1)
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
        else:
            for error in report.errors:
                self.stderr.write(str(error))
            if report.more_errors:
                self.stderr.write(f"……另有 {report.more_errors} 处错误未列出")
            if report.errors:
                self.stderr.write(f"共 {len(report.errors) + report.more_errors} 处错误，没有写入任何数据。")
            else:
                verb = "检查通过（未写入）" if report.dry_run else "已导入"
                self.stdout.write(
                    f"{verb}：{report.rows} 行，新增 {report.new}，更新 {report.updated}，未变 {report.unchanged}"
                )
                if opts["verbosity"] >= 1:
                    for note in report.notes:
                        self.stdout.write(note)
        if report.errors:
            sys.exit(1)
