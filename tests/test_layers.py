"""The direction of dependencies between our apps, read from the source (no database, no Django needed).

Every module of every app is parsed; a module refers to another app when it imports it (at the top, inside
a function, relatively) or names it in a string: a dotted path ("outreach.mobile.services"), a label
("mobile.IntegrityFlag", "people.view_household", "places.county" in a migration) or a bare app label
("mobile", as in apps.get_model("mobile", ...), a migration dependency or a permission table). Each app may
refer only to the apps its arrows reach (README, 代码结构): lower apps learn about upper ones through
signals (outreach/lib/signals.py), declarations on their AppConfig, and admin registrations made from above.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "outreach"

# Each app and the apps it builds on directly; every app may also use outreach/lib, which uses none.
# places ← accounts ← people ← campaigns ← visits; registrations on places only; dashboards, dataio and
# mobile on top of all of those (and not on each other); demo also on mobile (the demo's integrity flags),
# never on dashboards (which follow its writes by signal); notify (the group robots) on dashboards, which tells
# it of a 签发 by signal; benchmarks above everything.
ARROWS: dict[str, set[str]] = {
    "lib": set(),
    "places": set(),
    "accounts": {"places"},
    "people": {"accounts"},
    "campaigns": {"people"},
    "visits": {"campaigns"},
    "registrations": {"places"},
    "dashboards": {"visits", "registrations"},
    "dataio": {"visits", "registrations"},
    "mobile": {"visits", "registrations"},
    "demo": {"mobile"},
    "notify": {"dashboards"},
    "benchmarks": {"dashboards", "dataio", "mobile"},
}


def allowed(app: str) -> set[str]:
    """The apps ``app`` may refer to: those its arrows reach, itself and lib (except for lib itself)."""
    reached, todo = set(), list(ARROWS[app])
    while todo:
        other = todo.pop()
        if other not in reached:
            reached.add(other)
            todo.extend(ARROWS[other])
    return reached | {app} | ({"lib"} if app != "lib" else set())


def references(source: str, module: str, apps: set[str]) -> list[tuple[int, str, str]]:
    """(line, app, how) for every reference in ``source`` (the module ``module``, dotted) to one of ``apps``."""
    package = module.split(".")
    found = []
    tree = ast.parse(source)
    # A dict key that happens to spell an app label ("visits", the 走访次数 figure) is data, not a reference.
    keys = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys if key is not None}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level], *([base] if base else [])])
            targets = [base] if node.module else [f"{base}.{alias.name}" for alias in node.names]
            if base == "outreach":
                targets = [f"outreach.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            app = _named_in_string(node.value, apps, bare=id(node) not in keys)
            if app:
                found.append((node.lineno, app, repr(node.value)))
            continue
        else:
            continue
        for target in targets:
            parts = target.split(".")
            if len(parts) > 1 and parts[0] == "outreach" and parts[1] in apps:
                found.append((node.lineno, parts[1], f"import {target}"))
    return found


_DOTTED = re.compile(r"outreach\.(\w+)(\.[\w.]*)?")
_LABEL = re.compile(r"(\w+)\.\w+")


def _named_in_string(text: str, apps: set[str], bare: bool = True) -> str | None:
    for pattern in (_DOTTED, _LABEL):
        match = pattern.fullmatch(text)
        if match and match.group(1) in apps:
            return match.group(1)
    return text if bare and text in apps else None


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        # The project's own modules (settings, urls, the formats package) may name any app.
        if len(relative.parts) > 1 and relative.parts[0] in ARROWS:
            yield relative.parts[0], path, ".".join(("outreach", *relative.with_suffix("").parts))


def test_it_places_every_app_in_the_arrows():
    on_disk = {p.name for p in ROOT.iterdir() if (p / "apps.py").exists()} | {"lib"}
    assert on_disk == set(ARROWS), "put a new app in ARROWS (and in the README's dependency line)"
    assert all(target in ARROWS for targets in ARROWS.values() for target in targets)


def test_it_finds_no_reference_against_the_arrows():
    offenders = []
    for app, path, module in _modules():
        forbidden = set(ARROWS) - allowed(app)
        for line, other, how in references(path.read_text(encoding="utf-8"), module, forbidden):
            offenders.append(f"{path.relative_to(ROOT.parent)}:{line} {app} → {other}: {how}")
    assert offenders == []


def test_it_keeps_lib_free_of_every_app():
    assert allowed("lib") == {"lib"}


@pytest.mark.parametrize(
    "source",
    [
        "import outreach.mobile.services",
        "from outreach.mobile.models import IntegrityFlag",
        "from outreach import mobile",
        "def later():\n    from outreach.mobile import services\n",
        "from ...mobile.services import scan_visits",
        "apps.get_model('mobile', 'IntegrityFlag')",
        "PATHS = {'mobile.IntegrityFlag': {}}",
        "PERMISSION = 'mobile.view_integrityflag'",
        "dependencies = [('mobile', '0001_initial')]",
        "import_module('outreach.mobile.services')",
    ],
)
def test_it_sees_each_way_of_naming_an_upper_app(source):
    found = references(source, "outreach.places.management.commands", {"mobile"})
    assert [app for _, app, _ in found] == ["mobile"]


def test_it_does_not_mistake_a_relative_import_or_a_word_for_a_reference():
    source = "from . import models\nfrom .models import Village\nLABEL = 'mobile phone'\nNAME = 'mobiles.x'\n"
    assert references(source, "outreach.places.admin", {"mobile"}) == []


# --- What the lower apps learn from above instead of importing it -----------------------------------------


def test_it_gathers_each_apps_scope_paths_from_its_own_app_config():
    from django.apps import apps

    from outreach.accounts.scoping import SCOPE_PATHS, UNSCOPED

    mobile = apps.get_app_config("mobile")
    assert SCOPE_PATHS["mobile.IntegrityFlag"] == mobile.scope_paths["IntegrityFlag"]
    assert {"campaigns.Campaign", "visits.FraudType"} == set(UNSCOPED)


def test_it_refuses_a_scope_path_that_leads_elsewhere(monkeypatch):
    from django.apps import apps

    from outreach.accounts import scoping

    places = apps.get_app_config("places")
    bad = {**places.scope_paths, "Village": {"grid": "town", "town": "mayor", "street": "town"}}
    monkeypatch.setattr(places, "scope_paths", bad)
    scoping._declarations.cache_clear()
    try:
        messages = [error.msg for error in scoping.check_scope_paths()]
    finally:
        monkeypatch.undo()
        scoping._declarations.cache_clear()
    assert messages == [
        "places.Village scope_paths['grid'] = 'town': leads to places.Town, not places.GridArea",
        "places.Village scope_paths['town'] = 'mayor': places.Village has no field 'mayor'",
        "places.Village scope_paths['street'] = 'town': unknown level (one of grid, village, town, county, member)",
    ]
    assert scoping.check_scope_paths() == []


def test_it_refuses_a_grant_of_an_unknown_role_or_a_permission_the_model_lacks(monkeypatch):
    from django.apps import apps

    from outreach.accounts import permissions

    assert permissions.check_role_permissions() == []
    monkeypatch.setattr(
        apps.get_app_config("places"), "role_permissions", {"Zone": {"county": "export", "mayor": "view"}}
    )
    assert [error.msg for error in permissions.check_role_permissions()] == [
        "places.Zone role_permissions['county']: no 'export' permission",
        "places.Zone role_permissions: unknown role 'mayor'",
    ]
