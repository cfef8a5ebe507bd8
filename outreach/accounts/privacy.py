"""Personal information (个人信息保护法): who sees full phone numbers, and the access log that records looks."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from outreach.accounts.models import Role
from outreach.lib.phones import is_valid_phone, mask_phone, normalize_phone

# Grid workers and party members call their own households; everyone else sees masked numbers and must
# reveal one explicitly (which is logged).
FULL_PHONE_ROLES = {Role.GRID, Role.MEMBER}


def sees_full_phones(user) -> bool:
    return bool(user and user.is_authenticated and user.role in FULL_PHONE_ROLES and not user.is_superuser)


def display_phone(user, phone: str) -> str:
    """The phone number as ``user`` may see it: full for roles that call households, masked otherwise."""
    if not phone:
        return ""
    return phone if sees_full_phones(user) else mask_phone(phone)


def phone_display(user):
    """``display_phone`` for one ``user``, the role looked at once: a function for an export's every row."""
    if sees_full_phones(user):
        return lambda phone: phone or ""
    return lambda phone: mask_phone(phone) if phone else ""


# Column headers under which exports carry phone numbers (the 责任分工表's and the rosters' spellings).
PHONE_HEADERS = ("手机号码", "联系电话", "电话", "手机", "户主联系电话", "党员联系电话", "联系方式")


def protect_dataset(user, dataset, phone_headers=PHONE_HEADERS):
    """Mask the phone columns of a tablib ``dataset`` for ``user``, in place; returns the dataset.

    Every export built on django-import-export passes through it; formula-like text is made harmless by
    the file format (``admin_base.EXPORT_FORMATS``), since how depends on the file.
    """
    headers = list(dataset.headers or [])
    phone_columns = {i for i, header in enumerate(headers) if str(header).strip() in phone_headers}
    if not phone_columns:
        return dataset
    rows = []
    for row in dataset:
        cells = list(row)
        for i in phone_columns:
            value = cells[i] if i < len(cells) else None
            if isinstance(value, str | int) and value != "":
                cells[i] = display_phone(user, str(value))
        rows.append(cells)
    dataset.wipe()
    dataset.headers = headers or None
    for cells in rows:
        dataset.append(cells)
    return dataset


# --- reveals: the "查看完整号码" button and a search by a full number are the same act -----------------------


class RevealLimitExceeded(Exception):
    """The user has revealed ``PHONE_REVEAL_LIMIT_PER_HOUR`` numbers in the last hour (answered 429)."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(
            f"您在一小时内查看或按完整号码搜索电话已达{limit}次上限，请稍后再试；如工作确需更多，请联系市级管理员。"
        )


def check_reveal_quota(user) -> None:
    """Raise ``RevealLimitExceeded`` when ``user`` has used up the hour's reveals (counted in the access log,
    so every worker process and server agrees)."""
    from outreach.accounts.models import AccessLog

    limit = settings.PHONE_REVEAL_LIMIT_PER_HOUR
    since = timezone.now() - dt.timedelta(hours=1)
    used = AccessLog.objects.filter(user=user, kind=AccessLog.Kind.REVEAL, at__gte=since).count()
    if used >= limit:
        raise RevealLimitExceeded(limit)


def full_phone_in(term: str) -> str:
    """The phone number ``term`` spells in full (after the usual clean-up), or ""."""
    digits = normalize_phone(term)
    return digits if is_valid_phone(digits) else ""


def guard_phone_search(request, subject: str, term: str, queryset) -> None:
    """A search by a full phone number, by a user who sees masked numbers, is a reveal: it counts against
    the hour's limit (found or not, so numbers cannot be tried one by one) and is logged with the records
    it matched."""
    from outreach.accounts.models import AccessLog
    from outreach.accounts.services import record_access

    user = request.user
    digits = " ".join(filter(None, (full_phone_in(part) for part in str(term or "").split())))
    if not digits or sees_full_phones(user):
        return
    check_reveal_quota(user)
    ids = list(queryset.order_by().values_list("pk", flat=True)[:20])
    found = "、".join(f"#{pk}" for pk in ids) or "无"
    record_access(
        user,
        AccessLog.Kind.REVEAL,
        f"{subject}：按完整号码搜索"[:100],
        rows=len(ids),
        detail=f"搜索 {'、'.join(mask_phone(d) for d in digits.split())}，匹配记录：{found}",
        request=request,
    )
