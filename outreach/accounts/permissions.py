"""What each role may do, as Django permissions granted by role (no per-user permission rows to keep in sync).

Which *records* a user reaches is decided by the area fields on the user, not here (see ``scoping``).

Each app declares what each role may do with its own models, on its AppConfig: ``role_permissions`` maps a
model name to ``{role: "view add change delete import export"}`` (the actions, any of the model's
``Meta.default_permissions``). A role a model does not name gets nothing on it. This module gathers them,
so it names no model of the apps above accounts; ``check_role_permissions`` (a system check) refuses an
unknown role or an action the model has no permission for.
"""

from django.apps import apps
from django.core import checks
from django.utils.functional import SimpleLazyObject

from outreach.accounts.models import Role


def _declared() -> list[tuple[type, str, str]]:
    apps.check_models_ready()
    return [
        (config.get_model(name), role, action)
        for config in apps.get_app_configs()
        for name, by_role in getattr(config, "role_permissions", {}).items()
        for role, actions in by_role.items()
        for action in actions.split()
    ]


def _role_permissions() -> dict[str, frozenset[str]]:
    grants = {role: set() for role in Role}
    for model, role, action in _declared():
        grants[Role(role)].add(f"{model._meta.app_label}.{action}_{model._meta.model_name}")
    return {role: frozenset(perms) for role, perms in grants.items()}


# Role → {"app.action_model", …}, built from the apps' declarations on first use.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = SimpleLazyObject(_role_permissions)


@checks.register()
def check_role_permissions(app_configs=None, **kwargs):
    """Every declared grant names a role and an action the model has a permission for (accounts.E002)."""
    try:
        declared = _declared()
    except LookupError as exc:
        return [checks.Error(f"role_permissions names no model: {exc}", id="accounts.E002")]
    errors = []
    for model, role, action in declared:
        if role not in Role.values:
            errors.append(
                checks.Error(f"{model._meta.label} role_permissions: unknown role {role!r}", id="accounts.E002")
            )
        if action not in model._meta.default_permissions:
            errors.append(
                checks.Error(
                    f"{model._meta.label} role_permissions[{role!r}]: no {action!r} permission", id="accounts.E002"
                )
            )
    return errors


class RoleBackend:
    """Grants an active user the permissions of their role, on top of any given in the admin.

    Listed before the password backend so a permission the role grants is answered with no query. It
    authenticates no one and loads no user (no ``get_user``), so a session never names it as its backend.
    """

    def authenticate(self, request, **credentials):
        return None

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
