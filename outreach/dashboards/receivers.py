"""Receivers that keep the summary rows honest: lower apps send signals, they never import dashboards."""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from outreach.campaigns.models import Campaign
from outreach.dashboards.services import mark_villages_stale
from outreach.dashboards.tasks import refresh_on_commit
from outreach.lib.signals import field_data_changed
from outreach.visits.models import QUALIFYING_CHECKS

# The campaign's 有效走访 switches, named once in visits.models.
RULE_FIELDS = tuple(check.switch for check in QUALIFYING_CHECKS)


@receiver(field_data_changed, dispatch_uid="dashboards_field_data_changed")
def on_field_data_changed(sender, village_ids=(), **kwargs):
    # Only a mark inside the writer's transaction (one INSERT, so a visit POST stays cheap); the rebuild is
    # one queued job, enqueued on commit unless one is already waiting. A village already marked was queued
    # for by the writer that marked it: a burst of visits to one village asks the queue once.
    if mark_villages_stale(village_ids):
        refresh_on_commit()


@receiver(pre_save, sender=Campaign, dispatch_uid="dashboards_campaign_rule_before")
def remember_rule(sender, instance, **kwargs):
    if instance.pk is None:
        instance._rule_before = None
        return
    instance._rule_before = Campaign.objects.filter(pk=instance.pk).values_list(*RULE_FIELDS).first()


@receiver(post_save, sender=Campaign, dispatch_uid="dashboards_campaign_rule_after")
def requalify_on_rule_change(sender, instance, created, raw=False, **kwargs):
    if created or raw:
        return
    before = getattr(instance, "_rule_before", None)
    after = tuple(getattr(instance, f) for f in RULE_FIELDS)
    if before is not None and tuple(before) != after:
        from outreach.visits.services import requalify_visits

        requalify_visits(instance)
