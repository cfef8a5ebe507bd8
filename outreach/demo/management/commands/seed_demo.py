from django.core.management.base import BaseCommand, CommandError

from outreach.demo.services import seed_demo


class Command(BaseCommand):
    help = (
        "在真实的运城市区划上生成演示数据：活动“十万党员进百万家”、党组织、党员、小分队、住户、包联、"
        "几周的走访记录和几个日期的App注册通报（含新绛县2021-08-13：62,113 / 49,213），"
        "并为每个角色建一个登录账号。结果固定可重复；再次运行不会重复添加。先运行 load_divisions。"
    )

    def handle(self, *args, **options):
        try:
            result = seed_demo()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if not options["verbosity"]:
            return
        self.stdout.write("已生成演示数据：" if result.created else "演示数据已存在，未重复添加：")
        self.stdout.write("，".join(f"{name} {count}" for name, count in result.counts.items()))
        self.stdout.write("\n演示账号（登录 http://127.0.0.1:8000/admin/）：")
        for login in result.logins:
            self.stdout.write(
                f"  {login.role:<6} 用户名 {login.username:<12} 密码 {login.password}  范围：{login.scope}"
            )
