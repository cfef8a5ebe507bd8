from django.apps import AppConfig


class RegistrationsConfig(AppConfig):
    name = "outreach.registrations"
    verbose_name = "反诈App注册"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    scope_paths = {"RegistrationReport": {"town": "town", "county": "county"}}
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "RegistrationReport": {
            "city": "view add change delete import export",
            "county": "view add change import export",
            "town": "view export",
        },
    }
