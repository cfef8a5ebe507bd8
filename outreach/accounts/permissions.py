"""What each role may do, as Django permissions granted by role (no per-user permission rows to keep in sync).

Which *records* a user reaches is decided by the area fields on the user, not here.
"""

from django.contrib.auth.backends import BaseBackend

from outreach.accounts.models import Role

_VIEW = "view"
_EDIT = ("view", "add", "change")
_ALL = ("view", "add", "change", "delete")

_DOMAIN = {
    "places": ["county", "town", "village", "gridarea", "zone"],
    "people": ["partyorganization", "partymember", "team", "household", "resident"],
    "campaigns": ["campaign", "assignment"],
    "visits": ["fraudtype", "visit"],
    "registrations": ["registrationreport"],
    "mobile": ["integrityflag", "callbackcheck"],
}


def _perms(app: str, models: list[str], actions) -> set[str]:
    actions = (actions,) if isinstance(actions, str) else actions
    return {f"{app}.{action}_{model}" for model in models for action in actions}


# Models that have their own "import" and "export" permissions (see their Meta.default_permissions).
IMPORT_EXPORT_MODELS = {
    "people": ["household", "partymember"],
    "campaigns": ["assignment"],
    "visits": ["visit"],
    "registrations": ["registrationreport"],
    "accounts": ["user"],
}


def _io_perms(actions, apps=None) -> set[str]:
    perms = set()
    for app, models in IMPORT_EXPORT_MODELS.items():
        if apps is None or app in apps:
            perms |= _perms(app, models, actions)
    return perms


def _role_permissions() -> dict[str, frozenset[str]]:
    everything = set()
    for app, models in _DOMAIN.items():
        everything |= _perms(app, models, _ALL)
    everything |= _perms("accounts", ["user"], _EDIT) | {"accounts.view_accesslog"}
    everything |= _io_perms(("import", "export"))

    county = set()
    for app, models in _DOMAIN.items():
        county |= _perms(app, models, _VIEW)
    county |= _perms("places", ["gridarea", "zone"], _EDIT)
    county |= _perms("people", ["partyorganization", "partymember", "team", "household", "resident"], _ALL)
    county |= _perms("campaigns", ["assignment"], _ALL)
    county |= _perms("visits", ["visit"], _EDIT)
    county |= _perms("registrations", ["registrationreport"], _EDIT)
    # The county's own staff, grid workers and members: created and imported inside the county only
    # (the user admin refuses city-level roles and other counties).
    county |= _perms("accounts", ["user"], _EDIT)
    county |= _io_perms(("import", "export"))

    town = set()
    for app, models in _DOMAIN.items():
        town |= _perms(app, models, _VIEW)
    town |= _perms("places", ["gridarea"], _EDIT)
    town |= _perms("people", ["partymember", "team", "household", "resident"], _EDIT)
    town |= _perms("campaigns", ["assignment"], _EDIT)
    town |= _perms("visits", ["visit"], _EDIT)
    town |= _io_perms("export", apps={"people", "campaigns", "visits", "registrations"})
    # Reviewing integrity flags and call-backs (issue 5) is county and town staff's work.
    county |= _perms("mobile", ["integrityflag", "callbackcheck"], _EDIT)
    town |= _perms("mobile", ["integrityflag", "callbackcheck"], _EDIT)

    # Grid workers and members record visits: the visit form needs the campaign and member choices.
    grid = _perms("places", ["village", "gridarea"], _VIEW) | _perms("visits", ["fraudtype"], _VIEW)
    grid |= _perms("people", ["household", "resident"], _EDIT) | _perms("people", ["partymember"], _VIEW)
    grid |= _perms("campaigns", ["campaign", "assignment"], _VIEW) | _perms("visits", ["visit"], _EDIT)
    member = _perms("people", ["household", "resident", "partymember"], _VIEW)
    member |= _perms("visits", ["fraudtype"], _VIEW) | _perms("campaigns", ["campaign", "assignment"], _VIEW)
    member |= _perms("visits", ["visit"], ("view", "add"))
    return {
        Role.CITY: frozenset(everything),
        Role.COUNTY: frozenset(county),
        Role.TOWN: frozenset(town),
        Role.GRID: frozenset(grid),
        Role.MEMBER: frozenset(member),
    }


ROLE_PERMISSIONS = _role_permissions()


class RoleBackend(BaseBackend):
    """Grants an active user the permissions of their role, on top of any given in the admin."""

    def get_group_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return set(ROLE_PERMISSIONS.get(getattr(user_obj, "role", ""), ()))

    def get_all_permissions(self, user_obj, obj=None):
        return self.get_group_permissions(user_obj, obj)

    def has_perm(self, user_obj, perm, obj=None):
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label):
        return any(perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj))
