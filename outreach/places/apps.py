from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "outreach.places"
    verbose_name = "地区"
