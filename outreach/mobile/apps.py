from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class MobileConfig(AppConfig):
    name = "outreach.mobile"
    verbose_name = "手机走访与核查"
    # How a user's area limits each model: the path to each level (see outreach.accounts.scoping).
    # Checks on visits are county and town staff's work; members have no path, so they see none.
    scope_paths = {
        "IntegrityFlag": {
            "grid": "visit__grid",
            "village": "visit__village",
            "town": "visit__town",
            "county": "visit__county",
        },
        "CallbackCheck": {
            "grid": "visit__grid",
            "village": "visit__village",
            "town": "visit__town",
            "county": "visit__county",
        },
    }
    # What each role may do with each model (see outreach.accounts.permissions); a role not named, nothing.
    role_permissions = {
        "IntegrityFlag": {"city": "view add change delete", "county": "view add change", "town": "view add change"},
        "CallbackCheck": {"city": "view add change delete", "county": "view add change", "town": "view add change"},
    }

    def ready(self):
        from outreach.campaigns.models import Campaign
        from outreach.mobile.services import clear_caches
        from outreach.people.models import PartyMember
        from outreach.visits.models import FraudType

        for model in (Campaign, FraudType, PartyMember):
            post_save.connect(clear_caches, sender=model, dispatch_uid=f"mobile_cache_{model.__name__}_save")
            post_delete.connect(clear_caches, sender=model, dispatch_uid=f"mobile_cache_{model.__name__}_delete")
        m2m_changed.connect(
            clear_caches, sender=Campaign.counties.through, dispatch_uid="mobile_cache_campaign_counties"
        )
