"""python manage.py export_table KIND -o FILE.xlsx: the same export as the admin's 导出 button."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from outreach.accounts.models import User
from outreach.campaigns.rules import CampaignRefused
from outreach.dataio.exporters import EXPORT_KINDS, export_file, write_template
from outreach.dataio.importers import pick_campaign
from outreach.dataio.readers import UploadRefused
from outreach.dataio.services import find_county


class Command(BaseCommand):
    help = (
        "导出表格为 .xlsx（responsibility 责任分工表、households 住户、members 党员、registrations 通报、visits 走访）。"
        "责任分工表按乡镇分工作表，带户编号、党员编号，改后可原样导回。电话号码按角色隐藏中间四位。"
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(EXPORT_KINDS))
        parser.add_argument("-o", "--output", required=True, help="输出文件 .xlsx")
        parser.add_argument("--county", help="县（市、区）的代码或名称")
        parser.add_argument("--campaign", help="活动名称（责任分工表、走访）")
        parser.add_argument("--date", help="通报日期 YYYY-MM-DD（registrations）")
        parser.add_argument("--user", help="以该用户的管辖范围导出")
        parser.add_argument("--template", action="store_true", help="只导出空白模板（标题和表头）")

    def handle(self, *args, **opts):
        if opts["template"]:
            if opts["kind"] == "visits":
                raise CommandError("走访记录没有导入模板")
            write_template(opts["kind"], opts["output"])
            self.stdout.write(f"已写出模板：{opts['output']}")
            return
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"没有用户“{opts['user']}”")
        try:
            county = find_county(user, opts["county"]) if opts["county"] else None
        except UploadRefused as exc:
            raise CommandError(str(exc)) from exc
        try:
            campaign = pick_campaign(county=county, name=opts["campaign"]) if opts["campaign"] else None
        except CampaignRefused as exc:
            raise CommandError(str(exc)) from exc
        as_of = dt.date.fromisoformat(opts["date"]) if opts["date"] else None
        rows = export_file(opts["kind"], opts["output"], user=user, county=county, campaign=campaign, as_of=as_of)
        self.stdout.write(f"已导出 {rows} 行：{opts['output']}")
