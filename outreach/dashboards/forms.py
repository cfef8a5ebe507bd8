"""Forms of the 督办 pages: the list's filters, a step (签收 / 回复 / 办结 / 退回) and a 督办单 opened by hand."""

import datetime as dt

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from outreach.dashboards import supervision
from outreach.dashboards.models import SupervisionOrder
from outreach.lib.uploads import ATTACHMENT_TYPES_TEXT, UploadRefused, check_attachment

State = SupervisionOrder.State


class SupervisionFilterForm(forms.Form):
    """The list's filters (GET): state, 逾期 and the unit's level; a wrong value is simply not applied."""

    state = forms.ChoiceField(label="状态", required=False, choices=[("", "全部"), ("open", "未办结"), *State.choices])
    overdue = forms.BooleanField(label="只看逾期", required=False)
    level = forms.ChoiceField(label="单位层级", required=False, choices=[("", "全部"), *supervision.LEVELS.items()])

    def filter(self, queryset):
        if not self.is_valid():
            return queryset
        state, level = self.cleaned_data["state"], self.cleaned_data["level"]
        if state == "open":
            queryset = queryset.filter(state__in=supervision.OPEN_STATES)
        elif state:
            queryset = queryset.filter(state=state)
        if self.cleaned_data["overdue"]:
            queryset = queryset.filter(supervision.overdue_q())
        if level:
            queryset = queryset.filter(supervision.level_q(level))
        return queryset

    def describe(self) -> str:
        """The filters in words, for the export's subtitle."""
        if not self.is_valid():
            return "全部"
        parts = []
        if self.cleaned_data["state"]:
            parts.append(dict(self.fields["state"].choices)[self.cleaned_data["state"]])
        if self.cleaned_data["overdue"]:
            parts.append("逾期")
        if self.cleaned_data["level"]:
            parts.append(supervision.LEVELS[self.cleaned_data["level"]])
        return "、".join(parts) or "全部"


class StepForm(forms.Form):
    """One step posted from the detail page; ``seen_step`` makes a resent form harmless."""

    to = forms.ChoiceField(choices=[(s, s.label) for s in supervision.MOVES])
    seen_step = forms.IntegerField(required=False, widget=forms.HiddenInput)
    text = forms.CharField(label="内容", required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 5}))
    attachment = forms.FileField(
        label="附件（可选）",
        required=False,
        error_messages={"empty": "附件是空的", "invalid": "附件没有上传成功，请重新选择文件"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.SUPERVISION_MAX_ATTACHMENT_MB
        self.fields["attachment"].help_text = f"{ATTACHMENT_TYPES_TEXT}，不超过 {limit} MB"
        self.fields["to"].error_messages["invalid_choice"] = "没有这个办理步骤"
        self.fields["text"].error_messages["max_length"] = "内容最多 %(limit_value)d 字（现有 %(show_value)d 字）"

    def clean_attachment(self):
        upload = self.cleaned_data.get("attachment")
        if not upload:
            return None
        try:
            check_attachment(upload, upload.name, upload.size)
        except UploadRefused as exc:
            raise ValidationError(str(exc)) from exc
        return upload


class OpenOrderForm(forms.Form):
    """人工督办: the unit (a 区划代码), the bulletin it was picked from, why, and by when."""

    code = forms.CharField(widget=forms.HiddenInput, max_length=12)
    bulletin = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason_text = forms.CharField(
        label="督办原因",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "请写明督办原因"},
    )
    deadline = forms.DateField(
        label="整改期限",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "请填写整改期限", "invalid": "请填写正确的日期（如 2021-08-16）"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_text"].error_messages["max_length"] = "督办原因最多 %(limit_value)d 字"

    @staticmethod
    def default_deadline() -> dt.date:
        return timezone.localdate() + dt.timedelta(days=supervision.deadline_days())

    def clean_deadline(self):
        day = self.cleaned_data["deadline"]
        if day < timezone.localdate():
            raise ValidationError("整改期限不能早于今天")
        return day
