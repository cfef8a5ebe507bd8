"""Which permission each kind of import and export needs: the admin's buttons, the background jobs and the
``import_table``/``export_table --user`` commands all ask here, so a command run for a user can do exactly
what that user could do in the browser (run without ``--user`` it stays an operator command); ``scoped`` is
which rows they may read and write."""

from outreach.accounts.scoping import scope_queryset
from outreach.lib.uploads import UploadRefused

MODELS = {
    "responsibility": "campaigns.assignment",
    "households": "people.household",
    "members": "people.partymember",
    "registrations": "registrations.registrationreport",
    "visits": "visits.visit",
}
ACTIONS = {"import": "导入", "export": "导出"}


def require(user, action: str, kind: str, label: str) -> None:
    """Raise ``UploadRefused`` unless ``user`` (``None``: the operator) may ``action`` the ``kind``."""
    if user is None or kind not in MODELS:
        return
    app_label, model = MODELS[kind].split(".")
    if not (user.is_active and user.has_perm(f"{app_label}.{action}_{model}")):
        raise UploadRefused(f"账号“{user.username}”没有{ACTIONS[action]}{label}的权限")


def scoped(user, queryset):
    """``queryset`` in ``user``'s scope; a command run without a user (the server's operator) sees all."""
    return queryset if user is None else scope_queryset(user, queryset)
