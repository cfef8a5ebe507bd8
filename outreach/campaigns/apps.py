from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "outreach.campaigns"
    verbose_name = "活动与包联"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {
        "Assignment": {
            "grid": "household__grid",
            "village": "household__village",
            "town": "household__town",
            "county": "household__county",
            "member": "member__user",
        },
    }
    # Holds no one's data: every user reads the campaigns.
    unscoped_models = ("Campaign",)
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "Campaign": {
            "city": "view add change delete",
            "county": "view",
            "town": "view",
            "grid": "view",
            "member": "view",
        },
        "Assignment": {
            "city": "view add change delete import export",
            "county": "view add change delete import export",
            "town": "view add change export",
            "grid": "view",
            "member": "view",
        },
    }
