"""The phone pages at /m/. ``mobile:visit_api`` is the endpoint phones (and the benchmark) post visits to."""

from django.urls import path

from outreach.mobile import views

app_name = "mobile"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.MobileLoginView.as_view(), name="login"),
    path("logout/", views.MobileLogoutView.as_view(), name="logout"),
    path("h/<int:pk>/", views.household, name="household"),
    path("h/<int:pk>/visit/", views.visit_form, name="visit_form"),
    path("api/visits/", views.visit_api, name="visit_api"),
    path("sw.js", views.service_worker, name="sw"),
    path("offline/", views.offline, name="offline"),
    path("review/callbacks/", views.callbacks, name="callbacks"),
]
