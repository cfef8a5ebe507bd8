"""Recording visits: one service used by the admin, the phone pages, imports and the demo."""

from django.db import IntegrityError, transaction

from outreach.lib.signals import field_data_changed
from outreach.visits.models import Visit


def record_visit(*, client_id, household, campaign, visited_at, fraud_types=(), **fields) -> tuple[Visit, bool]:
    """Store a visit once per ``client_id``; return (visit, created).

    A resend with the same client id returns the stored visit unchanged, whatever the resend says.
    """
    existing = Visit.objects.filter(client_id=client_id).first()
    if existing is not None:
        return existing, False
    fraud_types = list(fraud_types)
    visit = Visit(client_id=client_id, household=household, campaign=campaign, visited_at=visited_at, **fields)
    visit.fill_places()
    visit.is_qualified = visit.qualifies(len(fraud_types))
    try:
        with transaction.atomic():
            visit.save()
            if fraud_types:
                visit.fraud_types.set(fraud_types)
    except IntegrityError:
        # Lost a race with a concurrent resend of the same visit: that one stored it.
        stored = Visit.objects.filter(client_id=client_id).first()
        if stored is None:
            raise
        return stored, False
    transaction.on_commit(lambda: field_data_changed.send(sender=Visit, village_ids={visit.village_id}))
    return visit, True


def requalify_visits(campaign) -> int:
    """Recompute ``is_qualified`` of every visit of ``campaign`` after its rule changed; return rows changed.

    One UPDATE per outcome, so it stays a few statements at 3,000,000 visits; summaries follow the signal.
    """
    from django.db.models import Exists, OuterRef, Q

    rule = Q()
    if campaign.require_entered:
        rule &= Q(entered=True)
    if campaign.require_met_person:
        rule &= Q(met_person=True)
    if campaign.require_signed:
        rule &= Q(signed=True)
    if campaign.require_explained:
        explained = Visit.fraud_types.through.objects.filter(visit_id=OuterRef("pk"))
        rule &= Q(explained=True) & Q(Exists(explained))
    visits = Visit.objects.filter(campaign=campaign)
    if not rule:
        rule = Q(pk__isnull=False)  # no requirement: every visit counts
    with transaction.atomic():
        village_ids = set(
            visits.filter((rule & Q(is_qualified=False)) | (~rule & Q(is_qualified=True)))
            .values_list("village_id", flat=True)
            .distinct()
        )
        changed = visits.filter(rule, is_qualified=False).update(is_qualified=True)
        changed += visits.filter(~rule, is_qualified=True).update(is_qualified=False)
    if village_ids:
        transaction.on_commit(lambda: field_data_changed.send(sender=Visit, village_ids=village_ids))
    return changed
