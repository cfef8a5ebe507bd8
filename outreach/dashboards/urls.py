from django.urls import path

from outreach.dashboards import supervision_views, views

app_name = "dashboards"

urlpatterns = [
    path("", views.home, name="home"),
    path("rank/county/", views.county_ranking, name="county_ranking"),
    path("rank/<slug:level>/<int:parent_pk>/", views.ranking, name="ranking"),
    path("reconcile/", views.reconciliation, name="reconciliation"),
    path("reconcile/<int:county_pk>/", views.reconciliation, name="county_reconciliation"),
    path("trends/", views.trends, name="trends"),
    path("chase/members/", views.chase_members, name="chase_members"),
    path("chase/households/", views.chase_households, name="chase_households"),
    path("chase/villages/", views.chase_villages, name="chase_villages"),
    path("bulletins/", views.bulletin_list, name="bulletin_list"),
    path("bulletins/draft/", views.bulletin_draft, name="bulletin_draft"),
    path("bulletins/issue/", views.bulletin_issue, name="bulletin_issue"),
    path("bulletins/<int:pk>/", views.bulletin_detail, name="bulletin_detail"),
    path("supervision/", supervision_views.supervision_list, name="supervision_list"),
    path("supervision/mine/", supervision_views.supervision_mine, name="supervision_mine"),
    path("supervision/new/", supervision_views.supervision_open, name="supervision_open"),
    path("supervision/<int:supervisionorder_pk>/", supervision_views.supervision_detail, name="supervision_detail"),
    path("supervision/<int:supervisionorder_pk>/move/", supervision_views.supervision_move, name="supervision_move"),
    path(
        "supervision/attachment/<int:supervisionstep_pk>/",
        supervision_views.supervision_attachment,
        name="supervision_attachment",
    ),
]
