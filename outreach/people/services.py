"""Writes of the roster: striking a household off (注销) and recording a back-dated roster date (事后更正).

A household or member never leaves the roster by deletion: it gets an end date and a reason, so a ranking of
an earlier day still counts it. A date set to a day already past changes figures that were shown: every such
change is a ``RosterCorrection`` (who, when, what, why), written by ``roster_corrections`` for the admin, the
importers and ``end_household`` alike.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from outreach.lib.signals import field_data_changed
from outreach.people.models import Household, PartyMember, RosterCorrection

HOUSEHOLD_FIELDS = ("roster_start", "roster_end")
MEMBER_FIELDS = {"joined_on": "joined_on", "left_on": "left_on"}


class CorrectionNeedsReason(ValueError):
    """A roster date moved into the past without saying why."""


@dataclass(frozen=True)
class DateChange:
    """One roster date of one household or member, before and after (``None``: unset, or a new row)."""

    obj: Household | PartyMember
    field: str
    old: dt.date | None
    new: dt.date | None
    new_row: bool = False


def affects_from(change: DateChange, today: dt.date) -> dt.date | None:
    """The first past day whose figures the change alters, or None when it alters no day before ``today``."""
    if change.old == change.new and not change.new_row:
        return None
    days = [d for d in (change.new, None if change.new_row else change.old) if d is not None]
    if not days:
        return None
    first = min(days)
    return first if first < today else None


def date_changes(obj, before: dict | None) -> list[DateChange]:
    """The roster dates of ``obj`` that differ from ``before`` (its stored values; None for a new row)."""
    fields = HOUSEHOLD_FIELDS if isinstance(obj, Household) else tuple(MEMBER_FIELDS)
    changes = []
    for name in fields:
        new = getattr(obj, name)
        if before is None:
            if name in ("roster_start", "joined_on") or new is not None:
                changes.append(DateChange(obj, name, None, new, new_row=True))
        elif before.get(name) != new:
            changes.append(DateChange(obj, name, before.get(name), new))
    return changes


def needs_reason(changes: list[DateChange], today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return any(affects_from(c, today) is not None for c in changes)


def roster_corrections(changes: list[DateChange], *, user=None, reason: str = "") -> list[RosterCorrection]:
    """Record every change that back-dates a roster date (one query); raise without a reason for one."""
    today = timezone.localdate()
    rows = []
    for change in changes:
        first = affects_from(change, today)
        if first is None:
            continue
        if not reason.strip():
            raise CorrectionNeedsReason("日期早于今天，会改变已经发布的数字（事后更正），请写明更正原因")
        obj = change.obj
        household = obj if isinstance(obj, Household) else None
        member = obj if isinstance(obj, PartyMember) else None
        if household is not None:
            places = {"county_id": obj.county_id, "town_id": obj.town_id, "village_id": obj.village_id}
            subject = f"{obj.head_name}户"
        else:
            org = obj.organization
            places = {"county_id": obj.county_id, "town_id": org.town_id, "village_id": org.village_id}
            subject = f"党员{obj.name}"
        rows.append(
            RosterCorrection(
                household=household,
                member=member,
                subject=subject[:100],
                field=change.field,
                old_value=change.old,
                new_value=change.new,
                affects_from=first,
                reason=reason.strip()[:300],
                recorded_by=user if user is not None and user.is_authenticated else None,
                **places,
            )
        )
    return RosterCorrection.objects.bulk_create(rows)


@transaction.atomic
def end_household(household: Household, *, day: dt.date, reason: str, note: str = "", user=None, why: str = ""):
    """注销/迁出: the household leaves the roster from ``day`` (the first day it no longer counts).

    Nothing is deleted: its visits and assignments stay, rankings of earlier days still count it. A ``day``
    before today is a correction and needs ``why``.
    """
    if day < household.roster_start:
        raise ValueError("移出花名册日期不能早于列入花名册日期")
    before = {name: getattr(household, name) for name in HOUSEHOLD_FIELDS}
    household.roster_end, household.end_reason, household.end_note = day, reason, note[:200]
    roster_corrections(date_changes(household, before), user=user, reason=why or note)
    household.save(update_fields=["roster_end", "end_reason", "end_note", "updated_at"])
    field_data_changed.send(sender=Household, village_ids=[household.village_id])
    return household
