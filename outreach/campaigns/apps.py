from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "outreach.campaigns"
    verbose_name = "活动与包联"
