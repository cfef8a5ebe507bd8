from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "outreach.people"
    verbose_name = "党员与住户"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {
        "PartyOrganization": {"village": "village", "town": "town", "county": "county", "member": "members__user"},
        "PartyMember": {
            "village": "organization__village",
            "town": "organization__town",
            "county": "county",
            "member": "user",
        },
        "Team": {"county": "county", "member": "members__user"},
        "Household": {
            "grid": "grid",
            "village": "village",
            "town": "town",
            "county": "county",
            "member": "assignments__member__user",
        },
        "Resident": {
            "grid": "household__grid",
            "village": "household__village",
            "town": "household__town",
            "county": "household__county",
            "member": "household__assignments__member__user",
        },
        "RosterCorrection": {"village": "village", "town": "town", "county": "county"},
    }
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "PartyOrganization": {"city": "view add change delete", "county": "view add change delete", "town": "view"},
        "PartyMember": {
            "city": "view add change delete import export",
            "county": "view add change delete import export",
            "town": "view add change export",
            "grid": "view",
            "member": "view",
        },
        "Team": {"city": "view add change delete", "county": "view add change delete", "town": "view add change"},
        "Household": {
            "city": "view add change delete import export",
            "county": "view add change delete import export",
            "town": "view add change export",
            "grid": "view add change",
            "member": "view",
        },
        "Resident": {
            "city": "view add change delete",
            "county": "view add change delete",
            "town": "view add change",
            "grid": "view add change",
            "member": "view",
        },
        "RosterCorrection": {"city": "view", "county": "view", "town": "view"},
    }
