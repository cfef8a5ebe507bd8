"""The drill's bookkeeping, kept pure so tests can hold it: what was answered, what was stored, what is missing.

A phone keeps every visit in its outbox until the server answers 2xx, and resends it with the same client id
until then; the server stores one row per client id. So after a fault: every visit answered 2xx must be stored
(``lost`` = 0), no client id may have two rows (``doubled`` = 0), and after the resends every visit sent is
stored exactly once (``missing_after_resend`` = 0).
"""

import json
from collections.abc import Iterable, Mapping


def answered(status: int) -> bool:
    return 200 <= status < 300


def account(outcomes: Iterable, stored: Mapping[str, int]) -> dict:
    """Figures of one run: ``outcomes`` have ``client_id`` and ``status`` (0: no answer); ``stored`` maps each
    client id found in the database to its number of rows."""
    outcomes = list(outcomes)
    sent = {o.client_id for o in outcomes}
    acked = {o.client_id for o in outcomes if answered(o.status)}
    in_db = {cid for cid, rows in stored.items() if rows > 0}
    return {
        "requests": len(outcomes),
        "sent": len(sent),
        "answered_2xx": len(acked),
        "failed_requests": sum(1 for o in outcomes if not answered(o.status)),
        "no_answer": sum(1 for o in outcomes if o.status == 0),
        "http_5xx": sum(1 for o in outcomes if o.status >= 500),
        "stored": len(in_db & sent),
        "stored_unanswered": len((in_db & sent) - acked),
        "lost": len(acked - in_db),
        "doubled": sum(1 for rows in stored.values() if rows > 1),
        "unexpected": len(in_db - sent),
    }


def to_resend(outcomes: Iterable) -> list[str]:
    """The bodies a phone still holds: every client id never answered 2xx, once each, in the order first sent."""
    bodies: dict[str, str] = {}
    acked = set()
    for o in outcomes:
        bodies.setdefault(o.client_id, o.body)
        if answered(o.status):
            acked.add(o.client_id)
    return [body for cid, body in bodies.items() if cid not in acked]


def after_resend(first: Iterable, resends: Iterable, stored: Mapping[str, int]) -> dict:
    """The end state once the outbox is empty: every visit ever sent is stored exactly once."""
    first, resends = list(first), list(resends)
    sent = {o.client_id for o in first}
    acked = {o.client_id for o in first + resends if answered(o.status)}
    in_db = {cid for cid, rows in stored.items() if rows > 0}
    return {
        "resent": len({o.client_id for o in resends}),
        "resend_requests": len(resends),
        "resend_201": sum(1 for o in resends if o.status == 201),
        "resend_200": sum(1 for o in resends if o.status == 200),
        "unanswered_after_resend": len(sent - acked),
        "missing_after_resend": len(sent - in_db),
        "doubled_after_resend": sum(1 for rows in stored.values() if rows > 1),
        "stored_once": sum(1 for cid in sent if stored.get(cid) == 1),
    }


def unavailable_seconds(outcomes: Iterable) -> float:
    """How long requests failed: from the start of the first failed request to the end of the first answered
    request that began after the last failure began (or that failure's end, when nothing was answered after)."""
    outcomes = list(outcomes)
    failures = [o for o in outcomes if not answered(o.status)]
    if not failures:
        return 0.0
    first = min(o.started for o in failures)
    last = max(failures, key=lambda o: o.started)
    recovered = [o.ended for o in outcomes if answered(o.status) and o.started >= last.started]
    return round((min(recovered) if recovered else last.ended) - first, 2)


def compare_snapshots(expected: Mapping, actual: Mapping) -> list[str]:
    """The differences between two database snapshots (row counts per table, checksums, ranking JSON),
    named for people: [] when they are identical."""
    differences = []
    for section in sorted(set(expected) | set(actual)):
        want, got = expected.get(section), actual.get(section)
        if isinstance(want, Mapping) and isinstance(got, Mapping):
            for key in sorted(set(want) | set(got)):
                if want.get(key) != got.get(key):
                    differences.append(f"{section}.{key}: {want.get(key)!r} ≠ {got.get(key)!r}")
        elif _canonical(want) != _canonical(got):
            differences.append(f"{section}: 不同")
    return differences


def _canonical(value):
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)
        except ValueError:
            return value
    return value
