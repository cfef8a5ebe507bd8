"""Receivers that keep the summary rows honest: lower apps send signals, they never import dashboards."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from outreach.campaigns.models import Campaign
from outreach.dashboards.services import mark_organizations_stale, mark_villages_stale
from outreach.dashboards.tasks import refresh_on_commit
from outreach.lib.signals import field_data_changed
from outreach.people.models import PartyMember, PartyOrganization
from outreach.visits.models import RULE_SWITCHES

# The campaign's 有效走访 switches, named once in visits.models.
RULE_FIELDS = RULE_SWITCHES


@receiver(field_data_changed, dispatch_uid="dashboards_field_data_changed")
def on_field_data_changed(sender, village_ids=(), organization_ids=(), **kwargs):
    # Only a mark inside the writer's transaction (one INSERT, so a visit POST stays cheap; inside the visit's
    # batch.combined() it goes with the visit's other INSERTs); the rebuild is one queued job, enqueued on commit
    # unless one is already waiting. A village already marked was queued for by the writer that marked it: a
    # burst of visits to one village asks the queue once.
    asked = []

    def marked(new):
        if new and not asked:
            asked.append(True)
            refresh_on_commit()

    mark_villages_stale(village_ids, then=marked)
    mark_organizations_stale(organization_ids, then=marked)


# Members one by one (admin, demo): their organization's 在岗党员数 and 党员参与率 change, and an agency branch
# has no village whose mark would reach it. Bulk writes (imports) send ``organization_ids`` instead.
@receiver(pre_save, sender=PartyMember, dispatch_uid="dashboards_member_before")
def remember_member_organization(sender, instance, raw=False, **kwargs):
    instance._organization_before = (
        None
        if raw or instance.pk is None
        else PartyMember.objects.filter(pk=instance.pk).values_list("organization_id", flat=True).first()
    )


@receiver(post_save, sender=PartyMember, dispatch_uid="dashboards_member_saved")
@receiver(post_delete, sender=PartyMember, dispatch_uid="dashboards_member_deleted")
def on_member_changed(sender, instance, raw=False, **kwargs):
    if raw:
        return
    if mark_organizations_stale({instance.organization_id, getattr(instance, "_organization_before", None)}):
        refresh_on_commit()


@receiver(post_save, sender=PartyOrganization, dispatch_uid="dashboards_organization_saved")
def on_organization_saved(sender, instance, raw=False, **kwargs):
    # A new branch gets its rows; a branch moved to another town or village carries its new places.
    if not raw and mark_organizations_stale({instance.pk}):
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
