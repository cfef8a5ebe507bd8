from django import forms

from outreach.campaigns.models import Campaign
from outreach.dataio.permissions import scoped
from outreach.places.models import County


class UploadForm(forms.Form):
    file = forms.FileField(label="文件", help_text="Excel（.xlsx、.xls）或 CSV（UTF-8 或 GBK 编码）")
    county = forms.ModelChoiceField(
        queryset=County.objects.none(), required=False, label="县（市、区）", help_text="不选时取表格标题中的县名"
    )
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.all(),
        required=False,
        label="活动",
        help_text="不选时取标题中写明的活动；标题没写时取当天唯一覆盖本县的进行中活动（有两个及以上时须选择）",
    )
    as_of = forms.DateField(required=False, label="数据日期", help_text="不填时取通报标题中的日期")

    def __init__(self, *args, user=None, kind="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = scoped(user, County.objects.order_by("code"))
        if kind != "responsibility":
            del self.fields["campaign"]
        if kind != "registrations":
            del self.fields["as_of"]
