"""Finds integrity flags on recent visits (run every few minutes or nightly from cron)."""

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from outreach.mobile.models import IntegrityFlag
from outreach.mobile.services import scan_visits


class Command(BaseCommand):
    help = (
        "检查最近上传的走访记录并标出疑点（短时间内走访多户、不同住户签名相同、不在活动日期内、夜间走访、"
        "位置远离本村）。可重复运行：同一条走访同类疑点只记一次，已核查的保留核查结果。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=2, help="检查最近几天上传的走访（默认2）；0 表示全部")

    def handle(self, *args, days, verbosity, **options):
        since = timezone.now() - dt.timedelta(days=days) if days > 0 else None
        counts = scan_visits(since=since)
        labels = dict(IntegrityFlag.Kind.choices)
        for kind, n in counts.items():
            if verbosity >= 1:
                self.stdout.write(f"{labels[kind]}：{n}条")
