"""Logging in and out (the admin and the phone pages share these accounts), and the lockout page."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render

from outreach.accounts.forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Logout is a POST (Django 5): a link cannot log anyone out behind their back."""


def lockout_response(request, original_response=None, credentials=None):
    """django-axes calls this when a username is locked at an address: a Chinese page, status 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    return render(request, "accounts/lockout.html", context, status=429)
