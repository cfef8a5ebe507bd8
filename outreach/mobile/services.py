"""Writes of the phone pages and of the checks on visits.

``submit_visit`` checks the phone's JSON with ``forms.VisitForm`` and turns it into one call of
``outreach.visits.services.record_visit`` (the only way visits are stored), updating the residents helped
on the spot in the same transaction.
``scan_visits`` finds integrity flags (``check_pending_integrity`` runs it on the village-days marked as visits
arrive, the job in ``tasks``; ``check_visit_integrity`` on recent uploads) and ``review_flags`` records 审核; both
roll each visit's flags up into ``Visit.integrity`` (``sync_integrity``), which the rankings and the
campaign switch 待核查的走访不计入入户率 read. ``draw_callback_sample`` and ``record_callback_result`` run 回访抽查.
"""

import contextlib
import datetime as dt
import math
import statistics
from collections import defaultdict

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import Random, RowNumber
from django.http import Http404
from django.utils import timezone

from outreach.accounts.scoping import get_in_scope_or_404, scope_queryset
from outreach.campaigns.models import Campaign
from outreach.lib.jobs import mark_new
from outreach.mobile.forms import CHECKS, MATERIALS, RESIDENT_FLAGS, VisitForm
from outreach.mobile.models import CallbackCheck, IntegrityFlag, PendingIntegrityCheck
from outreach.people.models import Resident
from outreach.visits.models import IntegrityStatus, Visit
from outreach.visits.services import record_visit, set_integrity


class VisitRejected(Exception):
    """The phone sent something that cannot be stored; ``errors`` maps a field to Chinese messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def submit_visit(user, data: dict) -> tuple[Visit, bool]:
    """Validate the phone's JSON (``VisitForm``) and store the visit once per ``client_id``; return (visit, created).

    Raises ``Http404`` for a household outside ``user``'s scope and ``VisitRejected`` with Chinese
    messages for anything else that is wrong: a bad ``client_id`` or ``household`` alone (nothing else is
    worth checking without them), else every field's errors at once. The residents listed under
    ``residents`` get their App states set (never unset) only when the visit is new, so a resend changes nothing.
    """
    if not isinstance(data, dict):
        raise VisitRejected({"__all__": ["提交的内容无法识别，请刷新页面后重试"]})
    form = VisitForm(data, user=user)
    if not form.is_valid():
        errors = form.phone_errors()
        if "client_id" in errors:
            raise VisitRejected({"client_id": errors["client_id"]})
        if form.has_error("household", "invalid_choice"):
            raise Http404("没有找到该住户")
        if "household" in errors:
            raise VisitRejected({"household": errors["household"]})
        raise VisitRejected(errors)
    visit = form.cleaned_data
    household, wanted = visit["household"], visit["residents"]
    latitude, longitude = visit["location"] or (None, None)

    # One transaction for the visit and the residents it changes; without residents record_visit's own suffices.
    with transaction.atomic() if wanted else contextlib.nullcontext():
        changed = []
        counts = dict(visit["extra"])
        if wanted:
            for resident in Resident.objects.filter(household_id=household.pk, pk__in=wanted):
                after = _resident_after(resident, wanted[resident.pk])
                if after != {name: getattr(resident, name) for name in RESIDENT_FLAGS}:
                    for name, value in after.items():
                        setattr(resident, name, value)
                        counts[name] += int(value)
                    changed.append(resident)
        stored, created = record_visit(
            client_id=visit["client_id"],
            household=household,
            campaign=visit["campaign"],
            visited_at=visit["visited_at"],
            fraud_types=visit["fraud_types"],
            visitor_id=visit["visitor_id"],
            recorded_by=user,
            signature=visit["signature"] or "",
            photo=visit["photo"] or "",
            latitude=latitude,
            longitude=longitude,
            notes=visit["notes"],
            **{name: visit[name] for name in CHECKS + MATERIALS},
            **counts,
        )
        if created and changed:
            Resident.objects.bulk_update(changed, [*RESIDENT_FLAGS, "updated_at"])
    return stored, created


def _resident_after(resident: Resident, wanted: dict[str, bool]) -> dict[str, bool]:
    """A resident's App states after the visit: set, never unset; each later step implies the earlier."""
    after = {name: getattr(resident, name) or wanted[name] for name in RESIDENT_FLAGS}
    if after["app_verified"]:
        after["app_registered"] = True
    if after["app_registered"] or after["alerts_enabled"]:
        after["app_installed"] = True
    return after


# ---------------------------------------------------------------------------------------------------------
# Integrity flags


SCAN_BATCH = 20_000


def _setting(name, default):
    return getattr(settings, name, default)


def _distance_km(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance (haversine) in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def scan_visits(since=None, visits=None) -> dict[str, int]:
    """Flag visits recorded since ``since`` (or the given queryset); return how many flags of each kind.

    Safe to run again: a visit gets at most one flag of each kind, and a reviewed flag keeps its review.
    """
    if visits is None:
        visits = Visit.objects.all()
        if since is not None:
            visits = visits.filter(created_at__gte=since)
    columns = (
        "id",
        "recorded_by_id",
        "visitor_id",
        "household_id",
        "visited_at",
        "campaign_id",
        "signature_sha256",
        "latitude",
        "longitude",
        "village_id",
    )
    counts = {kind: 0 for kind in IntegrityFlag.Kind.values}
    last_pk = 0
    while True:
        # Batches by primary key keep memory flat when a whole year (millions of visits) is scanned.
        rows = list(visits.filter(pk__gt=last_pk).order_by("pk").values(*columns)[:SCAN_BATCH])
        if not rows:
            break
        last_pk = rows[-1]["id"]
        found = _rapid_flags(rows) + _signature_flags(rows) + _date_and_night_flags(rows) + _far_flags(rows)
        with transaction.atomic():
            IntegrityFlag.objects.bulk_create(found, ignore_conflicts=True)
            sync_integrity({flag.visit_id for flag in found})
        for flag in found:
            counts[flag.kind] += 1
    return counts


def _rapid_flags(rows) -> list[IntegrityFlag]:
    """One recorder logging ``MOBILE_RAPID_HOUSEHOLDS`` or more households within ``MOBILE_RAPID_MINUTES``."""
    limit = _setting("MOBILE_RAPID_HOUSEHOLDS", 5)
    window = dt.timedelta(minutes=_setting("MOBILE_RAPID_MINUTES", 10))
    recorded = [row for row in rows if row["recorded_by_id"] is not None]
    if not recorded:
        return []
    low = min(row["visited_at"] for row in recorded) - window
    high = max(row["visited_at"] for row in recorded) + window
    timelines = defaultdict(list)
    # One query for the batch: every visit of these recorders around the batch's times.
    for worker, pk, household, at in (
        Visit.objects.filter(
            recorded_by_id__in={row["recorded_by_id"] for row in recorded}, visited_at__gte=low, visited_at__lte=high
        )
        .order_by("recorded_by_id", "visited_at", "id")
        .values_list("recorded_by_id", "id", "household_id", "visited_at")
    ):
        timelines[worker].append((pk, household, at))
    minutes = int(window.total_seconds() // 60)
    flags = []
    for timeline in timelines.values():
        flagged: dict[int, int] = {}
        start = 0
        for end in range(len(timeline)):
            while timeline[end][2] - timeline[start][2] > window:
                start += 1
            households = {household for _, household, _ in timeline[start : end + 1]}
            if len(households) >= limit:
                for visit_id, _, _ in timeline[start : end + 1]:
                    flagged[visit_id] = max(flagged.get(visit_id, 0), len(households))
        flags += [
            IntegrityFlag(visit_id=pk, kind=IntegrityFlag.Kind.RAPID, detail=f"同一录入人{minutes}分钟内走访{n}户")
            for pk, n in flagged.items()
        ]
    return flags


def _signature_flags(rows) -> list[IntegrityFlag]:
    """The same signature image (by SHA-256) stored on visits of different households."""
    hashes = {row["signature_sha256"] for row in rows if row["signature_sha256"]}
    if not hashes:
        return []
    by_hash = defaultdict(list)
    # The exclude names the partial index's own condition, so PostgreSQL may read it.
    matching = Visit.objects.filter(signature_sha256__in=hashes).exclude(signature_sha256="")
    for pk, household, digest in matching.values_list("id", "household_id", "signature_sha256"):
        by_hash[digest].append((pk, household))
    flags = []
    for seen in by_hash.values():
        households = {household for _, household in seen}
        if len(households) > 1:
            flags += [
                IntegrityFlag(
                    visit_id=pk,
                    kind=IntegrityFlag.Kind.SAME_SIGNATURE,
                    detail=f"与另外{len(households) - 1}户的签名图片完全相同",
                )
                for pk, _ in seen
            ]
    return flags


def _date_and_night_flags(rows) -> list[IntegrityFlag]:
    """Visits dated outside their campaign, and visits at night (``MOBILE_NIGHT_HOURS``, local time)."""
    night_start, night_end = _setting("MOBILE_NIGHT_HOURS", (22, 6))
    campaigns = dict(
        (pk, (start, end))
        for pk, start, end in Campaign.objects.filter(pk__in={row["campaign_id"] for row in rows}).values_list(
            "pk", "start_date", "end_date"
        )
    )
    flags = []
    for row in rows:
        local = timezone.localtime(row["visited_at"])
        start, end = campaigns[row["campaign_id"]]
        if not start <= local.date() <= end:
            flags.append(
                IntegrityFlag(
                    visit_id=row["id"],
                    kind=IntegrityFlag.Kind.OUTSIDE_DATES,
                    detail=f"走访日期{local:%Y-%m-%d}，活动为{start:%Y-%m-%d}至{end:%Y-%m-%d}",
                )
            )
        if local.hour >= night_start or local.hour < night_end:
            flags.append(
                IntegrityFlag(visit_id=row["id"], kind=IntegrityFlag.Kind.NIGHT, detail=f"走访时间{local:%H:%M}")
            )
    return flags


def _far_flags(rows) -> list[IntegrityFlag]:
    """A location far from the village. Villages have no coordinates in our data, so "the village" is the
    median location of the village's other located visits (at least ``MOBILE_FAR_MIN_POINTS`` of them)."""
    limit_km = _setting("MOBILE_FAR_KM", 3.0)
    min_points = _setting("MOBILE_FAR_MIN_POINTS", 3)
    located = [row for row in rows if row["latitude"] is not None and row["longitude"] is not None]
    by_village = defaultdict(list)
    for row in located:
        by_village[row["village_id"]].append(row)
    flags = []
    for village_id, new_rows in by_village.items():
        points = list(
            Visit.objects.filter(village_id=village_id, latitude__isnull=False, longitude__isnull=False)
            .order_by("-visited_at")
            .values_list("id", "latitude", "longitude")[:2000]
        )
        for row in new_rows:
            others = [(float(lat), float(lon)) for pk, lat, lon in points if pk != row["id"]]
            if len(others) < min_points:
                continue
            centre = (statistics.median(p[0] for p in others), statistics.median(p[1] for p in others))
            km = _distance_km(float(row["latitude"]), float(row["longitude"]), *centre)
            if km > limit_km:
                flags.append(
                    IntegrityFlag(
                        visit_id=row["id"],
                        kind=IntegrityFlag.Kind.FAR_AWAY,
                        detail=f"距本村其他走访位置的中位点约{km:.1f}公里",
                    )
                )
    return flags


def sync_integrity(visit_ids) -> int:
    """Roll the flags of ``visit_ids`` up into ``Visit.integrity`` (a visit without flags: 无疑点); return how
    many visits changed. ``visits.services.set_integrity`` requalifies them and marks their villages."""
    ids = sorted(set(visit_ids))
    statuses = defaultdict(set)
    for start in range(0, len(ids), 500):
        for visit_id, status in IntegrityFlag.objects.filter(visit_id__in=ids[start : start + 500]).values_list(
            "visit_id", "status"
        ):
            statuses[visit_id].add(status)
    return set_integrity({pk: IntegrityStatus.of(statuses.get(pk, ())) for pk in ids})


def mark_for_integrity_check(village_id: int, visited_at, then=None) -> bool | None:
    """Note that the visits of ``village_id`` on the local day of ``visited_at`` need checking (one INSERT … ON
    CONFLICT DO NOTHING); whether the mark is new. A village-day already marked was queued for by the writer
    that marked it, so only a new mark needs to ask the queue for the job. With ``then``, ``then(new)`` is
    called once that is known (the INSERT may wait for a ``batch.combined()``) and this returns None."""
    visited_at = Visit._meta.get_field("visited_at").to_python(visited_at)  # a caller may pass ISO text
    if timezone.is_naive(visited_at):
        visited_at = timezone.make_aware(visited_at)
    keys = [(village_id, timezone.localdate(visited_at))]
    if then is not None:
        mark_new(PendingIntegrityCheck, keys, ("village", "day"), then=lambda new: then(new > 0))
        return None
    return mark_new(PendingIntegrityCheck, keys, ("village", "day")) > 0


def has_pending_checks() -> bool:
    return PendingIntegrityCheck.objects.using(DEFAULT_DB_ALIAS).exists()


PENDING_CHUNK = 200


def check_pending_integrity() -> int:
    """Check the visits of every village and day marked since the last run (not a full scan); return how many
    village-days were checked. New flags may fall on earlier visits too (the fifth household of a rapid run
    flags the four before it, a repeated signature the first visit that used it)."""
    with transaction.atomic():
        marks = list(PendingIntegrityCheck.objects.select_for_update().values_list("pk", "village_id", "day"))
        if not marks:
            return 0
        PendingIntegrityCheck.objects.filter(pk__in=[pk for pk, _, _ in marks]).delete()
        for start in range(0, len(marks), PENDING_CHUNK):
            which = Q()
            for _, village_id, day in marks[start : start + PENDING_CHUNK]:
                begin = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
                which |= Q(village_id=village_id, visited_at__gte=begin, visited_at__lt=begin + dt.timedelta(days=1))
            scan_visits(visits=Visit.objects.filter(which))
    return len(marks)


@transaction.atomic
def review_flags(user, flags, status: str, note: str = "") -> int:
    """Mark ``flags`` (already scoped by the caller's queryset) as reviewed by ``user`` (审核: 确认无误 or
    确认有误, who and when) and roll their visits' status up."""
    visit_ids = set(flags.values_list("visit_id", flat=True))
    n = flags.update(status=status, reviewed_by=user, reviewed_at=timezone.now(), review_note=note[:200])
    sync_integrity(visit_ids)
    return n


@transaction.atomic
def delete_flags(flags) -> int:
    """Delete ``flags`` (a city user's clean-up in the admin) and roll their visits' status up again."""
    visit_ids = set(flags.values_list("visit_id", flat=True))
    n, _ = flags.delete()
    sync_integrity(visit_ids)
    return n


# ---------------------------------------------------------------------------------------------------------
# 回访抽查


def draw_callback_sample(user, per_worker: int = 3, since=None, until=None) -> int:
    """Draw up to ``per_worker`` random, not yet drawn visits of each worker in ``user``'s scope.

    ``since`` / ``until`` are dates (inclusive) on the visit time. Returns how many visits were drawn.
    """
    visits = scope_queryset(user, Visit.objects.filter(recorded_by__isnull=False, callback__isnull=True))
    if since is not None:
        visits = visits.filter(visited_at__date__gte=since)
    if until is not None:
        visits = visits.filter(visited_at__date__lte=until)
    ranked = visits.annotate(
        draw=Window(RowNumber(), partition_by=[F("recorded_by")], order_by=Random().asc())
    ).order_by()
    picked = list(ranked.filter(draw__lte=per_worker).values_list("id", "recorded_by_id"))
    with transaction.atomic():
        created = CallbackCheck.objects.bulk_create(
            [CallbackCheck(visit_id=pk, worker_id=worker, drawn_by=user) for pk, worker in picked],
            ignore_conflicts=True,
        )
    return len(created)


@transaction.atomic
def record_callback_result(user, check_id: int, result: str, note: str = "") -> CallbackCheck:
    """Record the resident's answer to a call-back; 404 outside ``user``'s scope."""
    if result not in CallbackCheck.Result.values or result == CallbackCheck.Result.PENDING:
        raise ValueError("回访结果无效")
    check = get_in_scope_or_404(user, CallbackCheck.objects.select_for_update(), pk=check_id)
    check.result = result
    check.note = note[:200]
    check.checked_by = user
    check.checked_at = timezone.now()
    check.save(update_fields=["result", "note", "checked_by", "checked_at"])
    return check
