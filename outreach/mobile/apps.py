from django.apps import AppConfig


class MobileConfig(AppConfig):
    name = "outreach.mobile"
    verbose_name = "手机走访与核查"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    # Checks on visits are county and town staff's work; members have no path, so they see none.
    scope_paths = {
        "IntegrityFlag": {
            "grid": "visit__grid",
            "village": "visit__village",
            "town": "visit__town",
            "county": "visit__county",
        },
        "CallbackCheck": {
            "grid": "visit__grid",
            "village": "visit__village",
            "town": "visit__town",
            "county": "visit__county",
        },
    }
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "IntegrityFlag": {"city": "view add change delete", "county": "view add change", "town": "view add change"},
        "CallbackCheck": {"city": "view add change delete", "county": "view add change", "town": "view add change"},
    }

    def ready(self):
        from outreach.mobile import receivers  # noqa: F401 - connects the signal receivers
