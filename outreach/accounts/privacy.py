"""Personal information (个人信息保护法): who sees full phone numbers, and the access log that records looks."""

from outreach.accounts.models import Role
from outreach.lib.phones import mask_phone

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
