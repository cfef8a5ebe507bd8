from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "outreach.visits"
    verbose_name = "入户走访"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {
        "Visit": {
            "grid": "grid",
            "village": "village",
            "town": "town",
            "county": "county",
            "member": "household__assignments__member__user",
        },
    }
    # A reference table every user reads.
    unscoped_models = ("FraudType",)
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "FraudType": {
            "city": "view add change delete",
            "county": "view",
            "town": "view",
            "grid": "view",
            "member": "view",
        },
        "Visit": {
            "city": "view add change delete import export",
            "county": "view add change import export",
            "town": "view add change export",
            "grid": "view add change",
            "member": "view add",
        },
    }
