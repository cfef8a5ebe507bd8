"""Recording visits: one service used by the admin, the phone pages, imports and the demo."""

import hashlib

from django.db import IntegrityError, transaction

from outreach.lib.signals import field_data_changed
from outreach.visits.models import Visit


def record_visit(*, client_id, household, campaign, visited_at, fraud_types=(), **fields) -> tuple[Visit, bool]:
    """Store a visit once per ``client_id``; return (visit, created).

    A resend with the same client id returns the stored visit unchanged, whatever the resend says.
    A ``signature`` given as a file gets its SHA-256 stored in ``signature_sha256`` (integrity checks).
    """
    existing = Visit.objects.filter(client_id=client_id).first()
    if existing is not None:
        return existing, False
    fraud_types = list(fraud_types)
    signature = fields.get("signature")
    if signature and not fields.get("signature_sha256") and hasattr(signature, "read"):
        signature.seek(0)
        fields["signature_sha256"] = hashlib.sha256(signature.read()).hexdigest()
        signature.seek(0)
    visit = Visit(client_id=client_id, household=household, campaign=campaign, visited_at=visited_at, **fields)
    visit.fill_places()
    visit.is_qualified = visit.qualifies(len(fraud_types))
    try:
        with transaction.atomic():
            visit.save()
            if fraud_types:
                # add(), not set(): a new visit has no rows to compare, so this is one INSERT.
                visit.fraud_types.add(*fraud_types)
    except IntegrityError:
        # Lost a race with a concurrent resend of the same visit: that one stored it.
        stored = Visit.objects.filter(client_id=client_id).first()
        if stored is None:
            raise
        return stored, False
    transaction.on_commit(lambda: field_data_changed.send(sender=Visit, village_ids={visit.village_id}))
    return visit, True
