"""Recording visits: one service used by the admin, the phone pages, imports and the demo."""

import functools
import hashlib

from django.db import connection, connections, transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_save, pre_save

from outreach.campaigns.models import Campaign
from outreach.lib import batch
from outreach.lib.signals import field_data_changed
from outreach.visits.models import FraudType, QualifyingRule, Visit, VisitorLastVisit

CHUNK = 500


class VisitRefused(Exception):
    """A visit that cannot be stored as sent, with the field and a Chinese message for the phone."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


class ClientIdTaken(VisitRefused):
    """The client id names another visit (another household or recorder): never a resend of this one."""

    def __init__(self):
        super().__init__("client_id", "这条走访的编号已被另一条走访使用，没有保存；请重新提交（手机会自动换一个编号）")


def record_visit(*, client_id, household, campaign, visited_at, fraud_types=(), **fields) -> tuple[Visit, bool]:
    """Store a visit once per ``client_id``; return (visit, created).

    A client id names one visit: a resend (the same id, household and recorder) returns the stored visit
    unchanged; the same id with another household or recorder raises ``ClientIdTaken`` and never hands
    back the other visit. Which campaign a visit may belong to is the caller's question to ``campaigns.rules``.
    A ``signature`` given as a file gets its SHA-256 stored in ``signature_sha256`` (integrity checks).
    ``fraud_types`` may be FraudType objects or their ids.

    The phone pages post visits at city scale, so the write is kept to few round trips: one
    ``INSERT … ON CONFLICT (client_id) DO NOTHING RETURNING id``, then one statement for the rows that follow it
    (history, scripts, the receivers' marks: ``outreach.lib.batch``), in one transaction.
    When the client id is already stored (a resend, or a concurrent resend that won the race) the INSERT
    returns nothing, the files this call wrote are removed, and the stored row is returned.
    ``pre_save``/``post_save`` are sent as ``save()`` would, so change-history listeners see the new visit.
    """
    fraud_types = list(fraud_types)
    signature = fields.get("signature")
    if signature and not fields.get("signature_sha256") and hasattr(signature, "read"):
        signature.seek(0)
        fields["signature_sha256"] = hashlib.sha256(signature.read()).hexdigest()
        signature.seek(0)
    visit = Visit(client_id=client_id, household=household, campaign=campaign, visited_at=visited_at, **fields)
    visit.fill_places()
    visit.is_qualified = visit.qualifies(len(fraud_types))
    with transaction.atomic():
        pk = _insert_once(visit)
        if pk is None:
            # Stored before (a resend), or by a concurrent resend that won the race, or another visit's id.
            stored = Visit.objects.get(client_id=client_id)
            if stored.household_id != visit.household_id or stored.recorded_by_id != visit.recorded_by_id:
                raise ClientIdTaken
            return stored, False
        # The INSERTs that follow the visit (its history row from post_save, the integrity mark, the scripts'
        # rows, the summary's stale mark) go as one statement; anything a receiver reads flushes them first.
        with batch.combined(connection.alias):
            post_save.send(
                sender=Visit, instance=visit, created=True, raw=False, using=connection.alias, update_fields=None
            )
            if fraud_types:
                _add_scripts(visit, fraud_types)
            # Inside the visit's transaction: the receivers' marks commit (or roll back) with the visit, in the
            # same round trips, so a visit POST pays no second transaction.
            field_data_changed.send(sender=Visit, village_ids={visit.village_id})
    return visit, True


@functools.cache
def _insert_once_sql(using: str) -> tuple[str, tuple]:
    """The visit's ``INSERT … ON CONFLICT (client_id) DO NOTHING RETURNING id`` and its fields, written once."""
    meta = Visit._meta
    fields = tuple(f for f in meta.local_concrete_fields if not f.primary_key)
    quote = connections[using].ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING RETURNING {}".format(
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
        quote(meta.get_field("client_id").column),
        quote(meta.pk.column),
    )
    return sql, fields


def _insert_once(visit: Visit) -> int | None:
    """INSERT the visit unless its client id is stored; its new primary key, or None on a conflict. The caller
    sends ``post_save`` for a new row."""
    pre_save.send(sender=Visit, instance=visit, raw=False, using=connection.alias, update_fields=None)
    sql, fields = _insert_once_sql(connection.alias)
    values = [f.get_db_prep_save(f.pre_save(visit, True), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        # This visit is already stored: drop the files this call just wrote.
        for name in ("signature", "photo"):
            stored = getattr(visit, name)
            if stored and stored.name:
                stored.storage.delete(stored.name)
        return None
    visit.pk = row[0]
    visit._state.adding = False
    visit._state.db = connection.alias
    return visit.pk


def _add_scripts(visit: Visit, fraud_types: list) -> None:
    """``visit.fraud_types.add(*fraud_types)`` for a visit just inserted: its ``m2m_changed`` signals and one
    ``INSERT … ON CONFLICT DO NOTHING`` (a new visit has no rows to compare), without the related manager's
    compiled queryset."""
    through = Visit.fraud_types.through
    meta = through._meta
    ids = {getattr(f, "pk", f) for f in fraud_types}
    signal = {"sender": through, "instance": visit, "reverse": False, "model": FraudType, "using": connection.alias}
    m2m_changed.send(action="pre_add", pk_set=ids, **signal)
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}, {}) VALUES {} ON CONFLICT DO NOTHING RETURNING 1".format(
        quote(meta.db_table),
        quote(meta.get_field("visit").column),
        quote(meta.get_field("fraudtype").column),
        ", ".join(["(%s, %s)"] * len(ids)),
    )
    batch.insert(
        meta.db_table,
        sql,
        [value for pk in sorted(ids) for value in (visit.pk, pk)],
        connection.alias,
        then=lambda rows: m2m_changed.send(action="post_add", pk_set=ids, **signal),
    )


def requalify_visits(campaign) -> int:
    """Recompute ``is_qualified`` of every visit of ``campaign`` after its rule changed; return rows changed.

    One UPDATE per outcome, so it stays a few statements at 3,000,000 visits; summaries follow the signal.
    The rule is ``QualifyingRule.as_q``, the SQL reading of the declaration ``Visit.qualifies`` reads in Python.
    """
    rule = QualifyingRule(campaign).as_q()
    visits = Visit.objects.filter(campaign=campaign)
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


def set_integrity(statuses: dict[int, str]) -> int:
    """Store each visit's integrity status (``{visit id: IntegrityStatus}``, rolled up from its flags by the
    checks that own them); return how many visits changed.

    A visit whose status changed is requalified where its campaign leaves flagged visits out of 入户率
    (``exclude_flagged``, one of ``QUALIFYING_CHECKS``), and its village is marked for the summaries (the
    rankings count flagged visits), in this transaction.
    """
    changed: dict[str, list[int]] = {}
    campaigns, villages = set(), set()
    with transaction.atomic():
        ids = sorted(statuses)
        for start in range(0, len(ids), CHUNK):
            for pk, now, campaign_id, village_id in Visit.objects.filter(pk__in=ids[start : start + CHUNK]).values_list(
                "pk", "integrity", "campaign_id", "village_id"
            ):
                if now != statuses[pk]:
                    changed.setdefault(statuses[pk], []).append(pk)
                    campaigns.add(campaign_id)
                    villages.add(village_id)
        for status, pks in changed.items():
            for start in range(0, len(pks), CHUNK):
                Visit.objects.filter(pk__in=pks[start : start + CHUNK]).update(integrity=status)
        moved = sorted(pk for pks in changed.values() for pk in pks)
        for campaign in Campaign.objects.filter(pk__in=campaigns, exclude_flagged=True):
            rule = QualifyingRule(campaign).as_q()
            for start in range(0, len(moved), CHUNK):
                visits = Visit.objects.filter(campaign=campaign, pk__in=moved[start : start + CHUNK])
                visits.filter(rule, is_qualified=False).update(is_qualified=True)
                visits.filter(~rule, is_qualified=True).update(is_qualified=False)
        if villages:
            field_data_changed.send(sender=Visit, village_ids=villages)
    return len(moved)


def rebuild_last_visits() -> int:
    """Write every member's latest visit from scratch (``VisitorLastVisit``, otherwise kept by triggers); for a
    bulk load that skipped the triggers. Returns how many members have one."""
    table = connection.ops.quote_name(VisitorLastVisit._meta.db_table)
    visits = connection.ops.quote_name(Visit._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(
            f"INSERT INTO {table} (member_id, last_visited_at) SELECT visitor_id, MAX(visited_at) FROM {visits} "
            "WHERE visitor_id IS NOT NULL GROUP BY visitor_id"
        )
        return cursor.rowcount
