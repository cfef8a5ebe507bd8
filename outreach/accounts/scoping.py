"""The one scoping mechanism: which records of each model a user may see and change.

Every queryset of domain data passes through ``scope_queryset`` (admin lists and forms, autocomplete,
pages, exports, imports, dashboards, commands run for a user). Out of scope answers 404, never a hint
that the record exists (``get_in_scope_or_404``).

A user's area comes from their role: the city sees everything; a county user their county; a town user
their town (or the towns of their 片区); a grid worker their grids; a party member the households assigned
to them. A user is filtered at the finest level of their area that the model has a path for.

Each app declares how its own models are scoped, on its AppConfig (``scope_paths``: the path from each
model to each level of ``LEVELS``; ``unscoped_models``: reference tables every user shares), as NetBox
keeps ``restrict()`` with each model rather than in one list: this module names no model of the apps
above it, and a model nobody declared is out of everyone's reach but the city's. ``check_scope_paths``
(a system check) refuses a declared path that leads nowhere.
"""

import functools
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from django.apps import apps
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils.functional import SimpleLazyObject

from outreach.accounts.models import SUPERUSER_LEVEL, Role, level_of, roles_below

#: The levels a path may lead to, finest first, and the model each path ends at. "member" is the path to the
#: login of the party member the record belongs to.
LEVELS = {
    "grid": "places.GridArea",
    "village": "places.Village",
    "town": "places.Town",
    "county": "places.County",
    "member": "accounts.User",
}


@functools.cache
def _declarations() -> tuple[dict[str, dict[str, str]], frozenset[str]]:
    """Every app's declarations, read once: ``AppConfig.scope_paths`` maps a model name to its paths,
    ``AppConfig.unscoped_models`` names the reference tables every user shares."""
    apps.check_models_ready()
    paths, unscoped = {}, set()
    for config in apps.get_app_configs():
        for name, levels in getattr(config, "scope_paths", {}).items():
            paths[config.get_model(name)._meta.label] = dict(levels)
        unscoped.update(config.get_model(name)._meta.label for name in getattr(config, "unscoped_models", ()))
    return paths, frozenset(unscoped)


# Model label → {level: path}, and the labels of shared reference tables, as the apps declared them.
SCOPE_PATHS: Mapping[str, Mapping[str, str]] = SimpleLazyObject(lambda: _declarations()[0])
UNSCOPED: AbstractSet[str] = SimpleLazyObject(lambda: _declarations()[1])


@checks.register()
def check_scope_paths(app_configs=None, **kwargs):
    """A declared path must lead from its model to the model of its level (accounts.E001)."""
    errors = []
    try:
        paths = _declarations()[0]
    except LookupError as exc:
        return [checks.Error(f"scope_paths or unscoped_models names no model: {exc}", id="accounts.E001")]
    for label, levels in paths.items():
        for level, path in levels.items():
            problem = _path_problem(apps.get_model(label), level, path)
            if problem:
                errors.append(checks.Error(f"{label} scope_paths[{level!r}] = {path!r}: {problem}", id="accounts.E001"))
    return errors


def _path_problem(model: type[Model], level: str, path: str) -> str | None:
    if level not in LEVELS:
        return f"unknown level (one of {', '.join(LEVELS)})"
    target = model
    for part in path.split("__"):
        if part == "pk":
            break
        try:
            field = target._meta.get_field(part)
        except FieldDoesNotExist:
            return f"{target._meta.label} has no field {part!r}"
        if not field.is_relation:
            return f"{target._meta.label}.{part} is not a relation"
        target = field.related_model
    if target._meta.label != LEVELS[level]:
        return f"leads to {target._meta.label}, not {LEVELS[level]}"
    return None


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
        rows = _grid_rows(user)
        return Area(
            grid_ids=frozenset(r[0] for r in rows),
            village_ids=frozenset(r[1] for r in rows),
            town_ids=frozenset(r[2] for r in rows),
            county_ids=frozenset(r[3] for r in rows),
        )
    if user.role == Role.MEMBER:
        return Area(member_user_id=user.pk)
    return Area()


def _grid_rows(user) -> list[tuple]:
    """(grid, village, town, county) ids of a grid worker's grids: one statement written out, as every request
    of a grid worker that reads scoped data asks it (a compiled queryset cost more than the query)."""
    links = user._meta.get_field("grids").remote_field.through._meta
    grid_model = links.get_field("gridarea").related_model
    connection = connections[router.db_for_read(grid_model, instance=user)]
    quote = connection.ops.quote_name
    village_model = grid_model._meta.get_field("village").related_model
    sql = (
        f"SELECT g.{quote('id')}, g.{quote('village_id')}, v.{quote('town_id')}, v.{quote('county_id')}"
        f" FROM {quote(links.db_table)} l"
        f" JOIN {quote(grid_model._meta.db_table)} g ON g.{quote('id')} = l.{quote('gridarea_id')}"
        f" JOIN {quote(village_model._meta.db_table)} v ON v.{quote('id')} = g.{quote('village_id')}"
        f" WHERE l.{quote('user_id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk])
        return cursor.fetchall()


def _paths(model: type[Model]) -> dict[str, str] | None:
    return _declarations()[0].get(model._meta.label)


def scope_q(user, model: type[Model]) -> Q | None:
    """The filter limiting ``model`` to ``user``'s area; ``None`` means no limit."""
    if model._meta.label in _declarations()[1]:
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


def scope_sql(user, model: type[Model], alias: str, connection) -> tuple[str, list] | None:
    """``scope_q`` as an SQL condition on the table ``alias`` of ``model``, for the few hand-written statements
    of a hot path (the phone's visit POST): ``("", [])`` when there is no limit, ``None`` when the filter follows a
    relation (the caller then uses ``scope_queryset``). The same area and the same declared path: only written
    out for a path that is a column of ``model`` itself. A grid worker's grids are read by the statement itself
    (a subquery of their grid links) unless the request already has their area: one round trip fewer."""
    grid = _grid_links_sql(user, model, alias, connection)
    if grid is not None:
        return grid
    q = scope_q(user, model)
    if q is None:
        return "", []
    ((lookup, value),) = q.children
    path, many = (lookup[: -len("__in")], True) if lookup.endswith("__in") else (lookup, False)
    try:
        field = model._meta.pk if path == "pk" else model._meta.get_field(path)
    except FieldDoesNotExist:
        return None
    if not field.concrete or field.many_to_many or field.one_to_many:
        return None
    quote = connection.ops.quote_name
    column = f"{quote(alias)}.{quote(field.column)}"
    if not many:
        return f"{column} = %s", [value]
    values = list(value)
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def _grid_links_sql(user, model: type[Model], alias: str, connection) -> tuple[str, list] | None:
    """``scope_sql`` for a grid worker whose area is not read yet, on a model whose grid path is its own column:
    ``scope_q`` limits it to the ids of the worker's grids (none: nothing), which are the ids their grid links name
    (``_grid_rows`` joins only the FKs every grid has). None for anyone else."""
    if getattr(user, "_outreach_area", None) is not None or user is None or not user.is_authenticated:
        return None
    if not user.is_active or user.is_superuser or user.role != Role.GRID or model._meta.label in _declarations()[1]:
        return None
    path = (_paths(model) or {}).get("grid")
    try:
        field = model._meta.get_field(path) if path else None
    except FieldDoesNotExist:
        return None
    if field is None or not field.concrete or not field.many_to_one:
        return None
    quote = connection.ops.quote_name
    grids = user._meta.get_field("grids")
    return (
        f"{quote(alias)}.{quote(field.column)} IN (SELECT l.{quote(grids.m2m_reverse_name())}"
        f" FROM {quote(grids.m2m_db_table())} l WHERE l.{quote(grids.m2m_column_name())} = %s)",
        [user.pk],
    )


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
