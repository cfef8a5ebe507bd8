"""The phone's visit payload (docs/mobile.md) as a Django form; its ``errors`` are what the phone shows.

The payload is JSON, so the fields read Python values as decoded (``true``, ``[1, 5]``, ``{…}``) rather
than a QueryDict's strings; yes/no, counts and ids go through ``outreach.lib.parse``. Every message is
Chinese and tells the person on the phone what to do. The campaign is the rule's answer
(``campaigns.rules.visit_campaign``); a campaign the rule cannot pick is an error on ``campaign``.
"""

import base64
import binascii
import datetime as dt
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from outreach.campaigns.rules import visit_campaign
from outreach.lib.parse import Unparsable, parse_bool, parse_id, parse_int
from outreach.mobile import queries
from outreach.visits.models import Visit

CHECKS = ("entered", "met_person", "explained", "signed")
MATERIALS = ("left_brochure", "left_letter", "left_pledge")
RESIDENT_FLAGS = ("app_installed", "app_registered", "app_verified", "alerts_enabled")
EXTRA_LABELS = dict(zip(RESIDENT_FLAGS, ("安装", "注册", "实名", "开启预警"), strict=True))
MAX_SIGNATURE_BYTES = 300_000
MAX_PHOTO_BYTES = 2_500_000
MAX_NOTES = 500
MAX_EXTRA = 50
_IMAGE_MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpg": b"\xff\xd8\xff",
    "webp": b"RIFF",
}
_RETRY = "请刷新页面后重试"
_RETYPE = "走访编号无效，请刷新页面后重新填写"
_NO_HOUSEHOLD = "没有指明走访的住户"


class FlagField(forms.Field):
    """A yes/no of the visit: a JSON boolean (1/0 and 是/否 are taken too); missing is no."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> bool:
        try:
            return parse_bool(value)
        except Unparsable:
            raise ValidationError(f"“{self.label}”无法识别，{_RETRY}", code="invalid") from None


class HouseholdField(forms.Field):
    """The household's id; ``VisitForm.clean`` looks it up in the user's scope (``invalid_choice``: out of
    scope, a 404)."""

    def to_python(self, value):
        try:
            pk = parse_id(value)
        except Unparsable:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return pk


class VisitTimeField(forms.DateTimeField):
    """ISO 8601 (a time without a zone is Beijing time); not in the future, not before the campaigns."""

    def to_python(self, value):
        if value and not isinstance(value, str | dt.datetime):
            value = str(value)  # a number or a list is a wrong time, not a crash
        return super().to_python(value or None)

    def validate(self, value):
        super().validate(value)
        if value > timezone.now() + dt.timedelta(minutes=10):
            raise ValidationError("走访时间晚于当前时间，请检查手机的日期和时间", code="future")
        if value.year < 2020:
            raise ValidationError("走访时间太早，请检查手机的日期和时间", code="early")


class FraudTypesField(forms.Field):
    """The ids of the fraud scripts explained; ``VisitForm.clean`` checks they are all active."""

    default_error_messages = {
        "invalid": f"诈骗类型无法识别，{_RETRY}",
        "inactive": "有的诈骗类型已停用，请刷新页面后重新勾选",
    }

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            ids = {parse_id(pk) for pk in value}
        except Unparsable:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if None in ids:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return sorted(ids)


class DataImageField(forms.Field):
    """An image sent as a data URL (``data:image/png;base64,…``), checked by its first bytes and its size."""

    def __init__(self, *, kinds, limit, redo, **kwargs):
        super().__init__(required=False, **kwargs)
        self.kinds, self.limit, self.redo = kinds, limit, redo

    def to_python(self, value) -> ContentFile | None:
        if not value:
            return None
        if not isinstance(value, str) or not value.startswith("data:image/") or ";base64," not in value:
            raise ValidationError(f"{self.label}格式不对，请重新{self.redo}", code="invalid")
        encoded = value.split(";base64,", 1)[1]
        if len(encoded) * 3 // 4 > self.limit:
            raise ValidationError(f"{self.label}太大（不超过{self.limit // 1000}KB）", code="too_big")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(f"{self.label}已损坏，请重新{self.redo}", code="broken") from None
        for ext in self.kinds:
            if data.startswith(_IMAGE_MAGIC[ext]):
                return ContentFile(data, name=f"{uuid.uuid4().hex}.{ext}")
        raise ValidationError(f"{self.label}不是可识别的图片", code="not_image")


class LocationInput(forms.Widget):
    """Reads ``latitude`` and ``longitude`` together: one field, so a bad pair is one error on ``location``."""

    def value_from_datadict(self, data, files, name):
        return data.get("latitude"), data.get("longitude")


class LocationField(forms.Field):
    """(latitude, longitude) rounded to 6 places, or None when the phone sent no position."""

    widget = LocationInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value):
        latitude, longitude = value
        if latitude in (None, "") or longitude in (None, ""):
            return None
        try:
            latitude, longitude = round(float(latitude), 6), round(float(longitude), 6)
        except (TypeError, ValueError):
            raise ValidationError("位置数据无效", code="invalid") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValidationError("位置数据无效", code="invalid")
        return latitude, longitude


class ExtraCountsField(forms.Field):
    """名册外: people not on the roster helped on the spot, per App step (0–50 each, 实名 ≤ 注册 ≤ 安装)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> dict[str, int]:
        if not value:
            value = {}
        if not isinstance(value, dict):
            raise ValidationError(f"名册外人数无法识别，{_RETRY}", code="invalid")
        counts, errors = {}, []
        for name, label in EXTRA_LABELS.items():
            try:
                counts[name] = parse_int(value.get(name), 0, MAX_EXTRA, default=0)
            except Unparsable as exc:
                counts[name] = 0
                rule = "须填写整数" if exc.code == "invalid" else f"须在0到{MAX_EXTRA}之间"
                errors.append(ValidationError(f"名册外{label}人数{rule}", code=exc.code))
        if not counts["app_verified"] <= counts["app_registered"] <= counts["app_installed"]:
            errors.append(ValidationError("名册外人数：实名不能多于注册，注册不能多于安装", code="order"))
        if errors:
            raise ValidationError(errors)
        return counts


class ResidentsField(forms.Field):
    """The roster's family members helped on the spot: ``{resident id: {App step: yes/no}}``."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> dict[int, dict[str, bool]]:
        if not value:
            return {}
        wanted = {}
        try:
            if not isinstance(value, list):
                raise TypeError
            for item in value:
                pk = parse_id(item["id"])
                if pk is None:
                    raise TypeError
                wanted[pk] = {name: parse_bool(item.get(name)) for name in RESIDENT_FLAGS}
        except (AttributeError, KeyError, TypeError, Unparsable):
            raise ValidationError(f"家庭成员数据无法识别，{_RETRY}", code="invalid") from None
        return wanted


def _label(name: str) -> str:
    return str(Visit._meta.get_field(name).verbose_name)


class VisitForm(forms.Form):
    """One visit as the phone sends it, for ``user``. ``cleaned_data`` holds what ``record_visit`` stores:
    the household (in scope), the campaign (by the rule), ``visitor_id`` (the member behind the login),
    the four checks and the materials, the scripts' ids, the files, ``location``, the counts and residents.
    """

    client_id = forms.UUIDField(strip=False, error_messages={"required": _RETYPE, "invalid": _RETYPE})
    household = HouseholdField(error_messages={"required": _NO_HOUSEHOLD, "invalid": _NO_HOUSEHOLD})
    campaign = forms.Field(required=False)  # an id or nothing; the rule reads it, clean() puts the Campaign here
    visited_at = VisitTimeField(error_messages={"required": "走访时间格式不对", "invalid": "走访时间格式不对"})
    entered = FlagField(label=_label("entered"))
    met_person = FlagField(label=_label("met_person"))
    explained = FlagField(label=_label("explained"))
    signed = FlagField(label=_label("signed"))
    left_brochure = FlagField(label=_label("left_brochure"))
    left_letter = FlagField(label=_label("left_letter"))
    left_pledge = FlagField(label=_label("left_pledge"))
    fraud_types = FraudTypesField()
    signature = DataImageField(label="签名", kinds=("png",), limit=MAX_SIGNATURE_BYTES, redo="签名")
    photo = DataImageField(label="照片", kinds=("jpg", "png", "webp"), limit=MAX_PHOTO_BYTES, redo="拍照")
    location = LocationField()
    notes = forms.CharField(
        required=False,
        max_length=MAX_NOTES,
        error_messages={
            "max_length": f"备注不能超过{MAX_NOTES}字",
            "null_characters_not_allowed": "备注里有无法保存的字符，请删去后重试",
        },
    )
    extra = ExtraCountsField()
    residents = ResidentsField()

    def __init__(self, data, *, user):
        super().__init__(data)
        self.user = user

    def clean(self):
        cleaned = super().clean()
        household = None
        if cleaned.get("household") is not None:
            # One query: the household in the user's scope, the member behind the login, the active scripts.
            household = queries.visit_target(self.user, cleaned["household"], cleaned.get("fraud_types"))
            if household is None:
                self.add_error("household", ValidationError("没有找到该住户", code="invalid_choice"))
                return cleaned
            cleaned["household"] = household
            if cleaned.get("fraud_types") and household.active_scripts != len(cleaned["fraud_types"]):
                message = self.fields["fraud_types"].error_messages["inactive"]
                self.add_error("fraud_types", ValidationError(message, code="inactive"))
        if (
            cleaned.get("explained")
            and not cleaned.get("fraud_types")
            and not self.has_error("fraud_types", "inactive")
        ):
            self.add_error("fraud_types", "已勾选“真讲解”，请至少勾选一种讲解过的诈骗类型")
        if cleaned.get("signed") and cleaned.get("signature") is None and not self.has_error("signature"):
            self.add_error("signature", "已勾选“真签名”，请住户在签名框内签名")
        if household is None:
            return cleaned
        cleaned["visitor_id"] = household.visitor_id
        visited_at = cleaned.get("visited_at")
        if visited_at is not None:
            choice = visit_campaign(
                household,
                timezone.localdate(visited_at),
                visitor_id=cleaned["visitor_id"],
                requested=cleaned.get("campaign"),
            )
            if choice.campaign is None:
                self.add_error("campaign", choice.reason)
            else:
                cleaned["campaign"] = choice.campaign
        return cleaned

    def phone_errors(self) -> dict[str, list[str]]:
        """``errors`` as the phone reads them: ``{field: [Chinese messages]}``."""
        return {field: [e["message"] for e in errors] for field, errors in self.errors.get_json_data().items()}


class _SharedFields(dict):
    """A form's declared fields that each instance shares rather than deep-copies.

    Django copies every field (and its widget) per form so a page may change them; this form is never rendered
    and changes no field, and the copy was a twentieth of a visit POST's CPU."""

    def __deepcopy__(self, memo):
        return dict(self)


VisitForm.base_fields = _SharedFields(VisitForm.base_fields)
