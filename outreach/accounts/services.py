"""Writes of the accounts area: the access log every import, export, bulk change and reveal calls."""

from outreach.accounts.models import AccessLog
from outreach.accounts.scoping import area_of
from outreach.lib.http import client_ip


def describe_scope(user) -> str:
    """A short Chinese description of a user's area, e.g. "新绛县龙兴镇" or "全市"."""
    if user is None:
        return "命令行（全市）"
    area = area_of(user)
    if area.everything:
        return "全市"
    if area.member_user_id is not None:
        return "本人包联户"
    parts = [p.name for p in (user.county, user.town, user.zone) if p is not None]
    if area.grid_ids:
        parts.append(f"{len(area.grid_ids)}个网格")
    return "".join(parts) or "无"


def record_access(user, kind: str, subject: str, rows: int = 0, filename: str = "", detail: str = "", request=None):
    """Append one line to the access log; ``user`` may be None for a command run without one."""
    ip = client_ip(request)
    return AccessLog.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        username=getattr(user, "username", "") or "（命令行）",
        kind=kind,
        subject=subject,
        scope=describe_scope(user),
        rows=rows,
        filename=filename[:255],
        detail=detail,
        ip_address=ip,
    )
