"""The login form, with messages a county clerk understands."""

from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "用户名或密码不正确。请注意区分大小写；连续输错多次会被暂时锁定。",
        "inactive": "该账号已停用，请联系本级系统管理员。",
    }
