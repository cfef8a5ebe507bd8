"""Writes on assignments: every path (admin action, command, import) calls these."""

from django.db import transaction

from outreach.campaigns.models import Assignment
from outreach.people.models import PartyMember


@transaction.atomic
def reassign_households(from_member: PartyMember, to_member: PartyMember, campaign=None, by_user=None) -> int:
    """Hand all of ``from_member``'s households to ``to_member`` (a member moves away or falls ill).

    Returns the number of assignments moved. Limited to one campaign when ``campaign`` is given.
    """
    if from_member.pk == to_member.pk:
        raise ValueError("不能把包联户移交给同一名党员")
    if from_member.county_id != to_member.county_id:
        raise ValueError("只能移交给同一县（市、区）的党员")
    assignments = Assignment.objects.filter(member=from_member)
    if campaign is not None:
        assignments = assignments.filter(campaign=campaign)
    return assignments.update(member=to_member, assigned_by=by_user)
