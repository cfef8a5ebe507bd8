"""工作群机器人 in the admin, scoped like everything else: a county admin sees and sets only the county's robots,
the city admin also the city's. The webhook address and the 加签 secret are credentials: lists show them
masked, the change form never sends them back (an empty field keeps what is stored). The push log is read-only.
"""

import urllib.parse

from django import forms
from django.contrib import admin, messages

from outreach.accounts.admin_base import OutreachModelAdmin, OutreachTabularInline
from outreach.notify.models import PushAttempt, PushMessage, WorkGroupRobot
from outreach.notify.services import queue_message


def mask_secret(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 8:
        return "****"
    return f"{value[:4]}****{value[-4:]}"


def mask_webhook(url: str) -> str:
    """The address with its key (``key=``, ``access_token=``) masked: enough to recognise, not to use."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    masked = "&".join(f"{k}={mask_secret(v)}" for k, v in query)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, masked, ""))


class RobotForm(forms.ModelForm):
    """On an existing robot the address and secret inputs start empty; left empty, the stored values stay."""

    clear_secret = forms.BooleanField(label="清除加签密钥", required=False)

    class Meta:
        model = WorkGroupRobot
        fields = ["name", "kind", "county", "webhook_url", "secret", "enabled"]
        widgets = {
            "webhook_url": forms.TextInput(attrs={"size": 90, "autocomplete": "off"}),
            "secret": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept = {}
        if self.instance.pk is None:
            self.fields.pop("clear_secret", None)
            return
        for name, masked in (
            ("webhook_url", mask_webhook(self.instance.webhook_url)),
            ("secret", mask_secret(self.instance.secret)),
        ):
            if not getattr(self.instance, name):
                continue
            self._kept[name] = getattr(self.instance, name)
            self.initial[name] = ""
            self.fields[name].required = False
            self.fields[name].widget.attrs["placeholder"] = masked
            self.fields[name].help_text = f"已保存（{masked}）。留空表示不修改，需要更换时填写新的。"
        if "secret" not in self._kept:
            self.fields.pop("clear_secret", None)

    def clean(self):
        cleaned = super().clean()
        for name, value in self._kept.items():
            if not cleaned.get(name):
                cleaned[name] = value
        if cleaned.get("clear_secret"):
            cleaned["secret"] = ""
        return cleaned


@admin.register(WorkGroupRobot)
class WorkGroupRobotAdmin(OutreachModelAdmin):
    form = RobotForm
    list_display = ["name", "kind", "scope", "masked_webhook", "signed", "enabled"]
    list_filter = ["kind", "enabled"]
    actions = ["send_test"]

    @admin.display(description="范围", ordering="county__code")
    def scope(self, obj):
        return obj.county.name if obj.county_id else "市级"

    @admin.display(description="Webhook 地址")
    def masked_webhook(self, obj):
        return mask_webhook(obj.webhook_url)

    @admin.display(description="加签", boolean=True)
    def signed(self, obj):
        return bool(obj.secret)

    def get_fields(self, request, obj=None):
        fields = ["name", "kind", "county", "webhook_url", "secret", "enabled"]
        return [*fields, "clear_secret"] if obj is not None and obj.secret else fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.user.county_id and not request.user.is_superuser:
            initial.setdefault("county", request.user.county_id)
        return initial

    @admin.action(description="发送测试消息", permissions=["change"])
    def send_test(self, request, queryset):
        count = 0
        for robot in queryset.filter(enabled=True):
            queue_message(
                robot,
                PushMessage.Topic.TEST,
                "反诈包联测试消息",
                f"#### 反诈包联测试消息\n\n“{robot.name}”已接入反诈包联，以后签发的通报和督办提醒会推送到本群。",
            )
            count += 1
        messages.info(request, f"已为 {count} 个启用的机器人排队发送测试消息，结果见“推送消息”。")


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PushAttemptInline(ReadOnlyMixin, OutreachTabularInline):
    model = PushAttempt
    fields = ["number", "at", "ok", "status_code", "errcode", "errmsg", "error", "answer"]
    readonly_fields = fields
    extra = 0


@admin.register(PushMessage)
class PushMessageAdmin(ReadOnlyMixin, OutreachModelAdmin):
    list_display = ["created_at", "robot", "topic", "title", "state", "attempts", "next_attempt_at"]
    list_filter = ["state", "topic"]
    list_select_related = ["robot"]
    fields = ["robot", "topic", "bulletin", "title", "text", "state", "attempts", "next_attempt_at", "created_at"]
    readonly_fields = fields
    inlines = [PushAttemptInline]
    actions = ["resend"]

    def has_resend_permission(self, request):
        return request.user.has_perm("notify.change_workgrouprobot")

    @admin.action(description="重新发送（作为新消息，原记录保留）", permissions=["resend"])
    def resend(self, request, queryset):
        count = 0
        for message in queryset.select_related("robot").filter(robot__enabled=True):
            queue_message(message.robot, message.topic, message.title, message.text, bulletin=message.bulletin)
            count += 1
        messages.info(request, f"已重新排队 {count} 条消息（停用的机器人不发送），结果见新的推送消息。")


@admin.register(PushAttempt)
class PushAttemptAdmin(ReadOnlyMixin, OutreachModelAdmin):
    list_display = ["at", "message", "number", "ok", "status_code", "errcode", "errmsg", "error"]
    list_filter = ["ok"]
    list_select_related = ["message"]
    readonly_fields = ["message", "number", "at", "ok", "status_code", "errcode", "errmsg", "answer", "error"]
