"""The one scoping mechanism: which records of each model a user may see and change.

Every queryset of domain data passes through ``scope_queryset`` (admin lists and forms, autocomplete,
pages, exports, imports, dashboards, commands run for a user). Out of scope answers 404, never a hint
that the record exists (``get_in_scope_or_404``).

A user's area comes from their role: the city sees everything; a county user their county; a town user
their town (or the towns of their 片区); a grid worker their grids; a party member the households assigned
to them. Each model names the path from itself to each level in ``SCOPE_PATHS``; a user is filtered at the
finest level of their area that the model has a path for.
"""

from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet
from django.http import Http404

from outreach.accounts.models import SUPERUSER_LEVEL, Role, level_of, roles_below

# Paths from a model to the places of its scope, finest level first. "member" is the path to the
# login (User) of the party member the record belongs to.
SCOPE_PATHS: dict[str, dict[str, str]] = {
    "places.County": {"village": "villages", "town": "towns", "county": "pk"},
    "places.Town": {"village": "villages", "town": "pk", "county": "county"},
    "places.Village": {"village": "pk", "town": "town", "county": "county"},
    "places.GridArea": {"grid": "pk", "village": "village", "town": "village__town", "county": "village__county"},
    "places.Zone": {"town": "towns", "county": "county"},
    "people.PartyOrganization": {"village": "village", "town": "town", "county": "county", "member": "members__user"},
    "people.PartyMember": {
        "village": "organization__village",
        "town": "organization__town",
        "county": "county",
        "member": "user",
    },
    "people.Team": {"county": "county", "member": "members__user"},
    "people.Household": {
        "grid": "grid",
        "village": "village",
        "town": "town",
        "county": "county",
        "member": "assignments__member__user",
    },
    "people.Resident": {
        "grid": "household__grid",
        "village": "household__village",
        "town": "household__town",
        "county": "household__county",
        "member": "household__assignments__member__user",
    },
    "campaigns.Assignment": {
        "grid": "household__grid",
        "village": "household__village",
        "town": "household__town",
        "county": "household__county",
        "member": "member__user",
    },
    "visits.Visit": {
        "grid": "grid",
        "village": "village",
        "town": "town",
        "county": "county",
        "member": "household__assignments__member__user",
    },
    "registrations.RegistrationReport": {"town": "town", "county": "county"},
    # Checks on visits (issue 5): for county and town staff; members have no path, so they see none.
    "mobile.IntegrityFlag": {
        "grid": "visit__grid",
        "village": "visit__village",
        "town": "visit__town",
        "county": "visit__county",
    },
    "mobile.CallbackCheck": {
        "grid": "visit__grid",
        "village": "visit__village",
        "town": "visit__town",
        "county": "visit__county",
    },
    "accounts.User": {"town": "town", "county": "county", "member": "pk"},
}

# Models that hold no one's data and are shared by every user (reference tables).
UNSCOPED = {"visits.FraudType", "campaigns.Campaign"}


@dataclass(frozen=True)
class Area:
    """The places a user works in, as id sets; ``None`` means unlimited at that level."""

    everything: bool = False
    county_ids: frozenset = frozenset()
    town_ids: frozenset = frozenset()
    village_ids: frozenset = frozenset()
    grid_ids: frozenset = frozenset()
    member_user_id: int | None = None


def area_of(user) -> Area:
    """The area of ``user``, cached on the user object for the request."""
    cached = getattr(user, "_outreach_area", None)
    if cached is not None:
        return cached
    area = _compute_area(user)
    if user is not None and not getattr(user, "is_anonymous", True):
        user._outreach_area = area
    return area


def _compute_area(user) -> Area:
    if user is None or not user.is_authenticated or not user.is_active:
        return Area()
    if user.is_superuser or user.role == Role.CITY:
        return Area(everything=True)
    if user.role == Role.COUNTY:
        return Area(county_ids=frozenset(filter(None, [user.county_id])))
    if user.role == Role.TOWN:
        if user.zone_id:
            # Only the zone's towns inside the user's county, whatever a zone was once saved with.
            town_ids = frozenset(user.zone.towns.filter(county_id=user.county_id).values_list("pk", flat=True))
        else:
            town_ids = frozenset(filter(None, [user.town_id]))
        return Area(county_ids=frozenset(filter(None, [user.county_id])), town_ids=town_ids)
    if user.role == Role.GRID:
        rows = list(user.grids.values_list("pk", "village_id", "village__town_id", "village__county_id"))
        return Area(
            grid_ids=frozenset(r[0] for r in rows),
            village_ids=frozenset(r[1] for r in rows),
            town_ids=frozenset(r[2] for r in rows),
            county_ids=frozenset(r[3] for r in rows),
        )
    if user.role == Role.MEMBER:
        return Area(member_user_id=user.pk)
    return Area()


def _paths(model: type[Model]) -> dict[str, str] | None:
    return SCOPE_PATHS.get(model._meta.label)


def scope_q(user, model: type[Model]) -> Q | None:
    """The filter limiting ``model`` to ``user``'s area; ``None`` means no limit."""
    label = model._meta.label
    if label in UNSCOPED:
        return None
    area = area_of(user)
    if area.everything:
        return None
    paths = _paths(model)
    if paths is None:
        # A model nobody declared is out of reach rather than silently open.
        return Q(pk__in=[])
    if area.member_user_id is not None:
        path = paths.get("member")
        return Q(**{path: area.member_user_id}) if path else Q(pk__in=[])
    for level, ids in (
        ("grid", area.grid_ids),
        ("village", area.village_ids),
        ("town", area.town_ids),
        ("county", area.county_ids),
    ):
        if ids and level in paths:
            return Q(**{f"{paths[level]}__in": sorted(ids)})
    return Q(pk__in=[])


def _multi_valued(model: type[Model], path: str) -> bool:
    """Whether following ``path`` from ``model`` can repeat rows (a reverse FK or many-to-many hop)."""
    opts = model._meta
    for part in path.split("__"):
        if part == "pk":
            return False
        field = opts.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        if not field.is_relation:
            return False
        opts = field.related_model._meta
    return False


def scope_queryset(user, queryset: QuerySet) -> QuerySet:
    """``queryset`` limited to what ``user`` may see; joins that could repeat rows go in a subquery."""
    model = queryset.model
    q = scope_q(user, model)
    if q is None:
        return queryset
    ((lookup, _),) = q.children or [("pk__in", None)]
    path = lookup.rsplit("__in", 1)[0] if lookup.endswith("__in") else lookup
    if _multi_valued(model, path):
        return queryset.filter(pk__in=model._default_manager.filter(q).values("pk"))
    return queryset.filter(q)


def get_in_scope_or_404(user, queryset: QuerySet, **lookup):
    """The one object matching ``lookup`` inside ``user``'s scope, else 404 (whether or not it exists)."""
    try:
        return scope_queryset(user, queryset).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("没有找到该记录") from exc


def in_scope(user, obj: Model) -> bool:
    return scope_queryset(user, type(obj)._default_manager.all()).filter(pk=obj.pk).exists()


def instance_in_scope(user, obj: Model) -> bool | None:
    """Whether ``obj`` (possibly unsaved) lies in ``user``'s area, judged from its own foreign keys.

    Used to refuse a form before it saves; answers ``None`` when the path starts with a reverse or
    many-to-many relation that an unsaved object cannot answer (the saved object is checked then).
    """
    q = scope_q(user, type(obj))
    if q is None:
        return True
    ((lookup, value),) = q.children
    if lookup.endswith("__in"):
        path, allowed = lookup[: -len("__in")], set(value)
    else:
        path, allowed = lookup, {value}
    if not allowed:
        return False
    first, _, rest = path.partition("__")
    if first == "pk":
        return (obj.pk in allowed) if obj.pk is not None else None
    field = obj._meta.get_field(first)
    if not field.concrete or not (field.many_to_one or field.one_to_one):
        return None
    target = getattr(obj, field.attname)
    if target is None:
        return False
    if not rest:
        return target in allowed
    return field.related_model._default_manager.filter(pk=target, **{f"{rest}__in": allowed}).exists()


def manageable_users(actor, queryset: QuerySet) -> QuerySet:
    """The accounts ``actor`` may list, change, reset or delete: in their area and strictly below their level.

    A county admin manages the town admins, grid workers and members of the county; a city admin also the
    county admins; only a superuser manages city admins and superusers. ``actor=None`` is the operator's
    command line and reaches every account.
    """
    if actor is None:
        return queryset
    if level_of(actor) >= SUPERUSER_LEVEL:
        return queryset
    return scope_queryset(actor, queryset).filter(is_superuser=False, role__in=roles_below(actor))
