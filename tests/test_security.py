"""Logging in, the lockout, the Content-Security-Policy, the 404 page and the production settings."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from outreach.accounts.permissions import ROLE_PERMISSIONS
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def _login(client, username, password, address):
    return client.post(reverse("admin:login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_locks_a_username_at_one_address_after_repeated_failures(users, client, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit):
        response = _login(client, "county_xinjiang", "wrong-password", "10.0.0.1")
        assert response.status_code in (200, 429)
    locked = _login(client, "county_xinjiang", PASSWORD, "10.0.0.1")
    assert locked.status_code == 429
    body = locked.content.decode()
    assert "登录已暂时锁定" in body and "分钟后再试" in body
    # The same office address still serves colleagues, and the user from another address.
    assert _login(client, "town_longxing", PASSWORD, "10.0.0.1").status_code == 302
    client.logout()
    assert _login(client, "county_xinjiang", PASSWORD, "10.0.0.2").status_code == 302


def test_it_logs_in_through_its_own_page_in_chinese(users, client):
    page = client.get(reverse("accounts:login"))
    assert page.status_code == 200 and "登录" in page.content.decode()
    wrong = client.post(
        reverse("accounts:login"), {"username": "grid_zhouzhuang1", "password": "x"}, REMOTE_ADDR="10.1.1.1"
    )
    assert "用户名或密码不正确" in wrong.content.decode()
    ok = client.post(
        reverse("accounts:login"), {"username": "grid_zhouzhuang1", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1"
    )
    assert ok.status_code == 302
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 302


def test_it_explains_password_rules_in_chinese(users):
    for weak in ("123", "1234567890123", "password123"):
        with pytest.raises(ValidationError) as caught:
            validate_password(weak, users.grid)
        messages = " ".join(caught.value.messages)
        assert "密码" in messages and not re.search(r"[A-Za-z]{4,}", messages), messages
    validate_password("Fanzha-baolian-2021", users.grid)


def test_it_ends_sessions(settings):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_HTTPONLY


def test_it_sends_a_policy_that_forbids_inline_scripts(users, client):
    client.force_login(users.county)
    for url in (reverse("admin:index"), reverse("admin:people_household_changelist"), "/no-such-page/"):
        policy = client.get(url)["Content-Security-Policy"]
        script = re.search(r"script-src ([^;]*)", policy).group(1)
        style = re.search(r"style-src ([^;]*)", policy).group(1)
        assert script.strip() == "'self'" and "unsafe" not in style, url
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_it_keeps_inline_code_out_of_our_templates():
    pattern = re.compile(r"<script>|<script\s+(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=|\sstyle=|<style", re.IGNORECASE)
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_it_answers_404_with_a_chinese_page_that_names_nothing(users, client):
    client.force_login(users.grid)
    response = client.get("/admin/people/household/987654321/change/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "没有找到" in body and "987654321" not in body


def test_it_grants_only_permissions_that_exist():
    existing = {
        f"{app}.{codename}" for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    for role, perms in ROLE_PERMISSIONS.items():
        assert perms <= existing, (role, perms - existing)
    for model in ("household", "partymember"):
        assert {f"people.import_{model}", f"people.export_{model}"} <= existing


def test_it_passes_the_deployment_check_with_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "SECRET_KEY"}
    env.update({"DJANGO_DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "fanzha.example.gov.cn"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    raised = set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", output))
    # W021 (HSTS preload) is justified in the README: preloading is a commitment for the whole domain.
    assert raised <= {"security.W021"}, output


def test_it_reads_the_client_address_only_as_far_as_our_proxies_wrote_it(rf, settings):
    from outreach.lib.http import client_ip

    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 10.2.3.4")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "127.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "10.2.3.4"


def test_it_refuses_in_chinese(users, client):
    client.force_login(users.grid)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 403
    assert "没有权限" in response.content.decode()


def test_it_reads_a_live_session_and_never_an_expired_one(users):
    # outreach.accounts.sessions loads the session with its own statement: the same row, the same expiry rule.
    import datetime as dt

    from django.contrib.sessions.models import Session
    from django.test import Client
    from django.utils import timezone

    client = Client()
    client.force_login(users.grid)
    assert client.get("/m/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    response = client.get("/m/")
    assert response.status_code == 302 and "login" in response["Location"]
