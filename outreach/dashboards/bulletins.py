"""The 通报 from draft to signature: 拟稿 → 预览 → 签发.

``draft_bulletin`` computes exactly what a bulletin would freeze (its number, title, text and every ranked
line with its streak) and writes nothing: the draft page, its preview, the Word file of a draft and
``manage.py bulletin`` without ``--issue`` all read it. ``issue_bulletin`` computes the same draft inside a
transaction and freezes it; it refuses a draft where no unit has a value (``EmptyBulletin``) and, given the
digest of the draft that was previewed, a draft whose ranking or text has changed since (``StaleDraft``), so
what was signed is what was seen. Only issuing takes a number.
"""

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from django.dispatch import Signal
from django.utils import timezone

from outreach.lib import metrics as m

BOTTOM = 3
TOP = 3

logger = logging.getLogger(__name__)

# Sent inside the issuing transaction once a bulletin and its 督办单 are stored; kwargs: bulletin. Receivers
# (the group push, above this app) must not fail or slow the signature: they act on commit.
bulletin_issued = Signal()


class EmptyBulletin(ValueError):
    """A bulletin where no unit has a value of the ranked metric: never issued."""


class StaleDraft(ValueError):
    """The figures changed between the preview and the signature."""


@dataclass
class Draft:
    """A bulletin before (or as) it is frozen: the header fields and the lines, in position order."""

    level: str
    parent_county: object
    as_of: dt.date
    metric: m.Metric
    campaign: object
    year: int
    number: int
    title: str
    issuer: str
    main_recipients: str
    copy_to: str
    note: str
    lines: list[dict] = field(default_factory=list)
    issued_on: dt.date | None = None  # 成文日期, once issued
    supervision_report: list[dict] = field(default_factory=list)  # 上期督办整改情况
    orders: list[str] = field(default_factory=list)  # units given a 督办单 by this bulletin
    pk: int | None = None

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.number}期"

    @property
    def scope_text(self) -> str:
        return f"{self.parent_county.name}各乡镇（街道）" if self.parent_county else "全市各县（市、区）"

    @property
    def ranked(self) -> list[dict]:
        return [line for line in self.lines if line["rank"] is not None]

    @property
    def empty_reason(self) -> str:
        """The Chinese reason this draft may not be issued, or "" when it may."""
        if self.ranked:
            return ""
        day = f"{self.as_of.year}年{self.as_of.month}月{self.as_of.day}日"
        return (
            f"{day}{self.scope_text}没有一个单位有“{self.metric.name}”的数字，不能签发空白通报："
            f"请换一个有数据的指标（如{_suggestion(self.level)}）或数据日期"
        )

    def digest(self) -> str:
        """A fingerprint of everything the bulletin would freeze except its number."""
        payload = {
            "head": [
                self.level,
                getattr(self.parent_county, "pk", None),
                self.as_of.isoformat(),
                self.metric.key,
                getattr(self.campaign, "pk", None),
                self.title,
                self.issuer,
                self.main_recipients,
                self.copy_to,
                self.note,
            ],
            "lines": [
                [
                    line["code"],
                    line["name"],
                    line["rank"],
                    line["previous_rank"],
                    line["bottom_streak"],
                    line["figures"],
                ]
                for line in self.lines
            ],
            "supervision": self.supervision_report,
        }
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _suggestion(level: str) -> str:
    return m.get_metric(m.DEFAULT_METRIC_BY_LEVEL.get(level, m.DEFAULT_METRIC)).name


def may_issue(user, parent_county) -> bool:
    """Who signs which series: the city's bulletin the city admin, a county's town bulletin its county admin
    (or the city admin); the pages and ``manage.py bulletin --user`` ask this."""
    from outreach.accounts.models import Role
    from outreach.accounts.scoping import scope_queryset
    from outreach.places.models import County

    if user.is_superuser:
        return True
    if parent_county is None:
        return user.role == Role.CITY
    return (
        user.role in (Role.CITY, Role.COUNTY)
        and scope_queryset(user, County.objects.filter(pk=parent_county.pk)).exists()
    )


def bulletin_series(level: str, parent_county):
    from outreach.dashboards.models import Bulletin

    return Bulletin.objects.filter(level=level, parent_county=parent_county)


def default_issuer(parent_county) -> str:
    return "运城市委政法委" if parent_county is None else f"{parent_county.name}委政法委"


def default_main_recipients(level: str, parent_county) -> str:
    return "各县（市、区）委政法委" if parent_county is None else "各乡镇（街道）党委、政府（办事处）"


def default_title(level: str, parent_county, metric: m.Metric) -> str:
    from outreach.dashboards.models import Bulletin

    scope_name = parent_county.name if parent_county else "全市"
    return f"关于{scope_name}{Bulletin.Level(level).label}{metric.name}排名情况的通报"


def default_metric(level: str, parent_county=None, as_of=None, campaign=None) -> m.Metric:
    """The level's usual metric when some unit has a value of it that day, else the first metric that has one
    (a county's towns have no App figures, so their bulletin starts on 入户率, never on an empty 注册率)."""
    from outreach.dashboards.queries import ranking

    preferred = m.get_metric(m.DEFAULT_METRIC_BY_LEVEL.get(level, m.DEFAULT_METRIC))
    rows = ranking(level, parent_county, as_of, preferred.key, campaign=campaign).rows
    for metric in [preferred, *(x for x in m.METRICS if x is not preferred)]:
        if any(metric.value(row) is not None for row in rows):
            return metric
    return preferred


def draft_bulletin(
    *,
    as_of,
    metric: str,
    level: str = "county",
    parent_county=None,
    campaign=None,
    title: str = "",
    issuer: str = "",
    main_recipients: str | None = None,
    copy_to: str = "",
    note: str = "",
) -> Draft:
    """What issuing now would freeze; writes no bulletin.

    First every stale mark is refreshed, whatever the grace (and after a refresh already running), so the
    preview shows exactly the figures 签发 then freezes: a bulletin is evidence for good.
    """
    from outreach.dashboards.queries import ranking
    from outreach.dashboards.services import ensure_fresh_summaries

    ensure_fresh_summaries(grace_seconds=0, wait=True)
    metric_obj = m.get_metric(metric)
    result = ranking(level, parent_county, as_of, metric_obj.key, campaign=campaign)
    series = bulletin_series(level, parent_county)
    previous = series.order_by("-issued_at", "-pk").first()
    previous_streaks = dict(previous.lines.values_list("code", "bottom_streak")) if previous is not None else {}
    previous_ranks = dict(previous.lines.values_list("code", "rank")) if previous is not None else {}
    number = (series.filter(year=as_of.year).aggregate(n=Max("number"))["n"] or 0) + 1
    draft = Draft(
        level=level,
        parent_county=parent_county,
        as_of=as_of,
        metric=metric_obj,
        campaign=result.campaign,
        year=as_of.year,
        number=number,
        title=(title or "").strip() or default_title(level, parent_county, metric_obj),
        issuer=(issuer or "").strip() or default_issuer(parent_county),
        main_recipients=(
            default_main_recipients(level, parent_county) if main_recipients is None else main_recipients.strip()
        ),
        copy_to=(copy_to or "").strip(),
        note=(note or "").strip(),
    )
    from outreach.dashboards.supervision import report_for_next, streak_threshold

    draft.supervision_report = report_for_next(previous)
    ranked = [r for r in result.rows if r["rank"] is not None]
    bottom_codes = {r["code"] or str(r["pk"]) for r in ranked[-BOTTOM:]} if len(ranked) > BOTTOM else set()
    for position, row in enumerate(result.rows, start=1):
        code = row["code"] or str(row["pk"])
        draft.lines.append(
            {
                "position": position,
                "rank": row["rank"],
                "previous_rank": previous_ranks.get(code),
                "code": code,
                "name": row["name"],
                "figures": {k: row.get(k) for k in m.FIGURES}
                | {
                    "report_date": _iso(row.get("report_date")),
                    # The denominator named, and corrections recorded after the date: frozen with the figures.
                    "population_source": row.get("population_source"),
                    "roster_corrections": row.get("roster_corrections", 0),
                },
                "bottom_streak": previous_streaks.get(code, 0) + 1 if code in bottom_codes else 0,
            }
        )
    draft.orders = [line["name"] for line in draft.lines if line["bottom_streak"] >= streak_threshold()]
    return draft


def issue_bulletin(*, as_of, metric: str, user=None, digest: str = "", **fields):
    """Freeze the ranking of ``as_of`` into a numbered 通报 with every figure copied; return the bulletin.

    A unit's ``bottom_streak`` counts consecutive bulletins of the same series (level and county) in which it
    was among the last three ranked units; a unit without a figure is not ranked and breaks no streak.
    ``campaign`` (an id or a campaign) overrides the campaign rule's default for the bulletin's place.
    Raises ``EmptyBulletin`` when no unit has a value and ``StaleDraft`` when ``digest`` (the previewed
    draft's) no longer matches.
    """
    from outreach.dashboards.models import Bulletin, BulletinLine

    with transaction.atomic():
        draft = draft_bulletin(as_of=as_of, metric=metric, **fields)
        if draft.empty_reason:
            raise EmptyBulletin(draft.empty_reason)
        if digest and digest != draft.digest():
            raise StaleDraft("预览之后数据或内容有变化，请核对新的预览后再签发")
        bulletin = Bulletin.objects.create(
            year=draft.year,
            number=draft.number,
            as_of=draft.as_of,
            level=draft.level,
            parent_county=draft.parent_county,
            metric=draft.metric.key,
            campaign=draft.campaign,
            title=draft.title[:200],
            issuer=draft.issuer[:100],
            main_recipients=draft.main_recipients[:300],
            copy_to=draft.copy_to[:300],
            issued_by=user if user is not None and user.is_authenticated else None,
            note=draft.note,
            supervision_report=draft.supervision_report,
        )
        BulletinLine.objects.bulk_create(
            [
                BulletinLine(
                    bulletin=bulletin,
                    **{k: line[k] for k in ("position", "rank", "previous_rank", "code", "name", "figures")},
                    bottom_streak=line["bottom_streak"],
                )
                for line in draft.lines
            ]
        )
        from outreach.dashboards.supervision import open_for_bulletin

        open_for_bulletin(bulletin, user=user)
        for receiver, error in bulletin_issued.send_robust(sender=Bulletin, bulletin=bulletin):
            if isinstance(error, Exception):
                logger.error("通报%s签发后的 %s 出错：%r", bulletin.label, receiver, error)
    return bulletin


def frozen_draft(bulletin) -> Draft:
    """An issued bulletin read back as a ``Draft``, so pages and files render drafts and bulletins alike."""
    draft = Draft(
        level=bulletin.level,
        parent_county=bulletin.parent_county,
        as_of=bulletin.as_of,
        metric=m.get_metric(bulletin.metric),
        campaign=bulletin.campaign,
        year=bulletin.year,
        number=bulletin.number,
        title=bulletin.title,
        issuer=bulletin.issuer,
        main_recipients=bulletin.main_recipients,
        copy_to=bulletin.copy_to,
        note=bulletin.note,
        issued_on=timezone.localdate(bulletin.issued_at),
        pk=bulletin.pk,
        supervision_report=list(bulletin.supervision_report),
        orders=list(bulletin.orders.order_by("pk").values_list("unit_name", flat=True)),
    )
    for line in bulletin.lines.all():
        draft.lines.append(
            {
                "position": line.position,
                "rank": line.rank,
                "previous_rank": line.previous_rank,
                "code": line.code,
                "name": line.name,
                "figures": dict(line.figures),
                "bottom_streak": line.bottom_streak,
            }
        )
    return draft


def _iso(day):
    return day.isoformat() if day else None


# The rates every bulletin shows besides the ranked metric.
SHOWN_RATES = ("registration_rate", "verification_rate", "visit_rate")


def present(draft: Draft, streak_n: int) -> dict:
    """What a page, the Word file and the group message show of a draft or a bulletin (one reading)."""
    metric = draft.metric
    lines = []
    for line in draft.lines:
        figures = line["figures"]
        previous, rank = line["previous_rank"], line["rank"]
        change = (previous - rank) if previous and rank else None
        lines.append(
            line
            | {
                "value": metric.display(figures),
                "shown": {k: (f"{v:,}" if isinstance(v, int) else m.DASH) for k, v in figures.items()},
                **{key: m.BY_KEY[key].display(figures) for key in (*SHOWN_RATES, "participation_rate")},
                "rank_change": change,
                "rank_change_text": m.format_rank_change(change),
                "flagged": line["bottom_streak"] >= streak_n,
            }
        )
    ranked = [line for line in lines if line["rank"] is not None]
    day = f"{draft.as_of.year}年{draft.as_of.month}月{draft.as_of.day}日"
    from outreach.dashboards.queries import denominator_text

    used: dict[str, list[str]] = {}
    for line in draft.lines:
        if line["figures"].get("population_source"):
            used.setdefault(line["figures"]["population_source"], []).append(line["name"])
    corrected = [f"{line['name']}（{n}处）" for line in draft.lines if (n := line["figures"].get("roster_corrections"))]
    campaign = f"；走访数字属活动“{draft.campaign.name}”" if draft.campaign else ""
    on = draft.issued_on
    return {
        "draft": draft,
        "date_text": f"{on.year}年{on.month}月{on.day}日" if on else "",
        "metric": metric,
        "lines": lines,
        "top": ranked[:TOP],
        "bottom": list(reversed(ranked[-BOTTOM:])) if len(ranked) > BOTTOM else [],
        "flagged": [line for line in lines if line["flagged"]],
        "streak_n": streak_n,
        "extra_column": metric.key not in SHOWN_RATES,
        "orders": [f"对{name}发出督办单，限期报送整改措施。" for name in draft.orders],
        "previous_orders": [
            f"{r['unit']}：{r['state']}"
            + (f"，{r['replied_on']}回复" if r["replied_on"] else "，未回复")
            + ("（逾期回复）" if r["late"] else "")
            + "。"
            for r in draft.supervision_report
        ],
        "opening": (
            f"现将截至{day}{draft.scope_text}{metric.name}情况通报如下（{metric.name} = {metric.definition}{campaign}）。"
        ),
        "denominators": denominator_text(sorted(used.items(), key=lambda item: -len(item[1]))),
        "corrections": (
            f"数据说明：{day}之后记录的花名册事后更正已计入{'、'.join(corrected)}的住户数、党员数及其比率，"
            "与当日的数字可能不同。"
            if corrected
            else ""
        ),
    }
