"""Personal information (个人信息保护法): who sees full phone numbers, and the access log that records looks."""

from outreach.accounts.models import Role
from outreach.lib.cells import safe_cell
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
    """Mask the phone columns of a tablib ``dataset`` for ``user`` and make every text cell formula-safe.

    Works in place and returns the dataset; every export built on django-import-export passes through it.
    """
    headers = list(dataset.headers or [])
    phone_columns = {i for i, header in enumerate(headers) if str(header).strip() in phone_headers}
    rows = []
    for row in dataset:
        cells = []
        for i, value in enumerate(row):
            if i in phone_columns and isinstance(value, str | int) and value != "":
                value = display_phone(user, str(value))
            cells.append(safe_cell(value))
        rows.append(cells)
    dataset.wipe()
    dataset.headers = [safe_cell(h) for h in headers] if headers else None
    for cells in rows:
        dataset.append(cells)
    return dataset
