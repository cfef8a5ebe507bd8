"""Group robots of the work groups (企业微信群机器人, 钉钉自定义机器人), the messages pushed to them and every
attempt to deliver one.

A robot belongs to a county (its 通报 and 督办提醒 go to that county's group) or, with no county, to the city.
A message is one text for one robot; each try to deliver it is a ``PushAttempt`` (append-only) with the HTTP
status, the answer's errcode and the answer itself, so "was it sent?" is answered from the log.
"""

from django.db import models

from outreach.dashboards.models import Bulletin
from outreach.lib.append_only import AppendOnlyModel
from outreach.places.models import County


class WorkGroupRobot(models.Model):
    """A webhook of a work group's robot, for the city or one county."""

    class Kind(models.TextChoices):
        WECOM = "wecom", "企业微信群机器人"
        DINGTALK = "dingtalk", "钉钉自定义机器人"

    name = models.CharField("名称", max_length=60, help_text="如“新绛县平安办工作群”")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="县（市、区）",
        help_text="留空为市级工作群（只有市级管理员可设）",
    )
    webhook_url = models.CharField(
        "Webhook 地址",
        max_length=500,
        help_text="企业微信：https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…；"
        "钉钉：https://oapi.dingtalk.com/robot/send?access_token=…",
    )
    secret = models.CharField(
        "加签密钥", max_length=200, blank=True, help_text="钉钉机器人“安全设置”选了“加签”时填写（SEC 开头）"
    )
    enabled = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "工作群机器人"
        verbose_name_plural = "工作群机器人"
        ordering = ["county__code", "pk"]

    def __str__(self):
        return self.name

    def clean(self):
        from outreach.notify.webhooks import check_webhook

        if self.kind and self.webhook_url:
            check_webhook(self.kind, self.webhook_url)
        if self.secret and self.kind == self.Kind.WECOM:
            from django.core.exceptions import ValidationError

            raise ValidationError({"secret": "企业微信群机器人没有加签，请留空"})


class PushMessage(models.Model):
    """One text pushed to one robot, with where delivery stands; its attempts say what each try got back."""

    class Topic(models.TextChoices):
        BULLETIN = "bulletin", "通报"
        CHASE = "chase", "督办提醒"
        TEST = "test", "测试消息"

    class State(models.TextChoices):
        PENDING = "pending", "待发送"
        RETRYING = "retrying", "等待重试"
        SENT = "sent", "已送达"
        FAILED = "failed", "发送失败"

    robot = models.ForeignKey(WorkGroupRobot, on_delete=models.PROTECT, related_name="messages", verbose_name="机器人")
    topic = models.CharField("内容", max_length=10, choices=Topic.choices)
    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="通报"
    )
    title = models.CharField("标题", max_length=100)
    text = models.TextField("正文（Markdown）")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次重试时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "推送消息"
        verbose_name_plural = "推送消息"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.title}（{self.get_state_display()}）"


class PushAttempt(AppendOnlyModel):
    """One try to deliver a message: what was answered (or why nothing was), never changed afterwards."""

    message = models.ForeignKey(PushMessage, on_delete=models.PROTECT, related_name="tries", verbose_name="推送消息")
    number = models.PositiveSmallIntegerField("第几次")
    at = models.DateTimeField("时间", auto_now_add=True)
    ok = models.BooleanField("成功", default=False)
    status_code = models.PositiveSmallIntegerField("HTTP 状态码", null=True, blank=True)
    errcode = models.IntegerField("errcode", null=True, blank=True, help_text="应答 JSON 中的 errcode，0 为成功")
    errmsg = models.CharField("errmsg", max_length=200, blank=True)
    answer = models.TextField("应答内容", blank=True, help_text="最多保留 1000 字")
    error = models.CharField("错误", max_length=300, blank=True, help_text="连接失败、超时等")

    class Meta:
        verbose_name = "推送记录"
        verbose_name_plural = "推送记录"
        ordering = ["message_id", "number", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "number"],
                name="pushattempt_one_per_number",
                violation_error_message="该次尝试已记录",
            )
        ]

    def __str__(self):
        return f"第{self.number}次"
