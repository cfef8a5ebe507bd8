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
