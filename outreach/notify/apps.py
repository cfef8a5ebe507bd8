from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "outreach.notify"
    verbose_name = "工作群推送"
    # How a user's area limits each model (see outreach.accounts.scoping): a robot is its county's (a city
    # robot, with no county, only the city's); messages and attempts follow their robot.
    scope_paths = {
        "WorkGroupRobot": {"county": "county"},
        "PushMessage": {"county": "robot__county"},
        "PushAttempt": {"county": "message__robot__county"},
    }
    # What each role may do (see outreach.accounts.permissions): the log is only ever read.
    role_permissions = {
        "WorkGroupRobot": {"city": "view add change delete", "county": "view add change delete"},
        "PushMessage": {"city": "view", "county": "view"},
        "PushAttempt": {"city": "view", "county": "view"},
    }

    def ready(self):
        from outreach.notify import receivers  # noqa: F401 - pushes each bulletin when it is issued
