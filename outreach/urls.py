"""Root URLs: the admin, the health check and the apps' pages."""

from django.contrib import admin
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "反诈包联 管理后台"
admin.site.site_title = "反诈包联"
admin.site.index_title = "十万党员进百万家 · 管理后台"


def healthz(request):
    """Answers 200 when the database answers, 503 otherwise (for load balancers and `make serve`)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def favicon(request):
    """Browsers ask for /favicon.ico on every page (the admin's too): send them to the static icon."""
    return HttpResponsePermanentRedirect(staticfiles_storage.url("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("outreach.accounts.urls")),
    path("admin/", admin.site.urls),
    path("dashboard/", include("outreach.dashboards.urls")),
    path("m/", include("outreach.mobile.urls")),
]
