from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "outreach.places"
    verbose_name = "地区"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {
        "County": {"village": "villages", "town": "towns", "county": "pk"},
        "Town": {"village": "villages", "town": "pk", "county": "county"},
        "Village": {"village": "pk", "town": "town", "county": "county"},
        "GridArea": {"grid": "pk", "village": "village", "town": "village__town", "county": "village__county"},
        "Zone": {"town": "towns", "county": "county"},
        # A county's staff read their own county's population log; the city reads every county's.
        "PopulationChange": {"village": "county__villages", "town": "county__towns", "county": "county"},
    }
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "County": {"city": "view add change delete", "county": "view", "town": "view"},
        "Town": {"city": "view add change delete", "county": "view", "town": "view"},
        "Village": {"city": "view add change delete", "county": "view", "town": "view", "grid": "view"},
        "GridArea": {
            "city": "view add change delete",
            "county": "view add change",
            "town": "view add change",
            "grid": "view",
        },
        "Zone": {"city": "view add change delete", "county": "view add change", "town": "view"},
        "PopulationChange": {"city": "view", "county": "view"},
    }
