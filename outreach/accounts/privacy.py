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
