"""The texts pushed to the groups, in the markdown both robots read (headings, bold, lists, links).

A bulletin's summary reads what ``bulletins.present`` gives the page and the Word file, so the group sees the
figures that were signed. The chase reminder counts what the 督办清单 pages list (``queries.chase_counts``).
"""

from django.conf import settings
from django.urls import reverse

from outreach.dashboards.bulletins import frozen_draft, present
from outreach.dashboards.supervision import streak_threshold


def link(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _day(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def bulletin_text(bulletin) -> tuple[str, str]:
    """(title, markdown) of a bulletin's summary: number and title, 红榜, 黑榜, the 督办 it opened, a link."""
    shown = present(frozen_draft(bulletin), streak_threshold())
    metric = shown["metric"]
    title = f"{bulletin.issuer}{bulletin.label}通报"
    lines = [
        f"#### {title}",
        f"**{bulletin.title}**",
        f"数据日期：{_day(bulletin.as_of)}　排名指标：{metric.name}",
        "**红榜**：" + ("；".join(f"第{x['rank']}名 {x['name']} {x['value']}" for x in shown["top"]) or "无"),
        "**黑榜**：" + ("；".join(f"第{x['rank']}名 {x['name']} {x['value']}" for x in shown["bottom"]) or "无"),
        "**督办**：" + ("".join(shown["orders"]) or "本期没有新的督办单。"),
    ]
    if shown["previous_orders"]:
        lines.append("**上期督办整改情况**：" + "".join(shown["previous_orders"]))
    lines.append(f"[查看通报全文]({link(reverse('dashboards:bulletin_detail', args=[bulletin.pk]))})")
    return title, "\n\n".join(lines)


def chase_text(place_name: str, rows: list[dict], days: int, as_of) -> tuple[str, str]:
    """(title, markdown) of a chase reminder: each unit's never-visited vulnerable households and idle members."""
    title = f"{place_name}督办提醒（{_day(as_of)}）"
    lines = [f"#### {title}", f"从未走访的重点人群住户、连续{days}天没有走访的党员："]
    body = [f"- {r['name']}：重点人群住户 {r['households']:,} 户未走访，党员 {r['members']:,} 人未走访" for r in rows]
    lines.append("\n".join(body) if body else "- 没有需要督办的单位")
    total_h = sum(r["households"] for r in rows)
    total_m = sum(r["members"] for r in rows)
    lines.append(f"合计：重点人群住户 {total_h:,} 户，党员 {total_m:,} 人")
    lines.append(
        f"[未走访住户]({link(reverse('dashboards:chase_households'))})　"
        f"[未走访党员]({link(reverse('dashboards:chase_members'))})"
    )
    return title, "\n\n".join(lines)
