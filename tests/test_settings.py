import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(env_extra, code):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_DEBUG", "DATABASE_URL")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


SERVE = "import outreach.wsgi"
CHECK = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','outreach.settings'); django.setup(); "
    "from django.core.management import call_command; call_command('makemigrations', check=True, dry_run=True)"
)


def test_it_refuses_to_serve_without_a_secret_key_when_debug_is_off():
    result = _run({}, SERVE)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_serves_with_a_secret_key():
    result = _run({"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "example.org"}, SERVE)
    assert result.returncode == 0, result.stderr


def test_it_runs_commands_that_sign_nothing_without_a_secret_key():
    result = _run({}, CHECK)
    assert result.returncode == 0, result.stderr


def test_it_speaks_chinese_in_shanghai_time(settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ


def test_it_parses_chinese_dates():
    from django import forms

    field = forms.DateField()
    assert str(field.clean("2025年3月5日")) == "2025-03-05"
    assert str(field.clean("2025/3/5")) == "2025-03-05"


def test_it_answers_the_health_check(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_make_run_shows_the_apps_own_chinese_error_pages_not_djangos(client, users, settings):
    settings.DEBUG = True
    client.force_login(users.member)
    for url in ("/no-such-page/", "/dashboard/rank/town/140825000000/", "/admin/people/household/987654/change/"):
        response = client.get(url)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert "没有找到" in body and "URLconf" not in body and "Page not found" not in body, url
    settings.TECHNICAL_ERROR_PAGES = True
    assert "URLconf" in client.get("/no-such-page/").content.decode()


def test_browsers_asking_for_favicon_ico_get_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")
