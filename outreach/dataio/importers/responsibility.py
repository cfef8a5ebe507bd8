"""责任分工表: the households of a 住户花名册, each with its party member and the 包联 in the campaign."""

from django.db import connection
from django.utils import timezone

from outreach.campaigns.models import Assignment
from outreach.dataio.importers.base import PREVIEW_ROWS
from outreach.dataio.importers.households import HouseholdImporter
from outreach.dataio.importers.members import MemberBook
from outreach.dataio.writers import BATCH, chunks, insert_rows


class ResponsibilityImporter(HouseholdImporter):
    """责任分工表: households as above, their party member (by 党员编号, phone, or name in organization), 包联."""

    kind = "responsibility"
    subject = "党员包联入户责任分工表"
    preview_keys = ("town", "village", "grid", "member_name", "organization", "head_name", "address", "size")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = MemberBook(self)

    def check_row(self, row_no, values):
        rec = self.parse_household(row_no, values)
        town_id = None
        if rec is not None:
            town_id = self.village_names[rec.village_id][1]
        member = self.members.resolve(row_no, values, town_id, rec.village_id if rec else None)
        if rec is None or member is None:
            return
        rec.member = member
        rec.values = values if len(self.records) < PREVIEW_ROWS else None
        self.records.append(rec)

    def finish_check(self):
        self.load_households()
        good = [rec for rec in self.records if self.resolve_household(rec)]
        self.records = good
        known = {r.pk for r in good if r.pk is not None}
        self.assigned: dict[int, tuple[int, int]] = {}
        # By the households' villages (a few queries), keeping only this file's households.
        villages = sorted({self.existing[pk][6] for pk in known})
        for chunk in chunks(villages, 500):
            for pk, household_id, member_id in (
                Assignment.objects.filter(campaign=self.campaign, household__village_id__in=chunk)
                .values_list("pk", "household_id", "member_id")
                .iterator(chunk_size=5000)
            ):
                if household_id in known:
                    self.assigned[household_id] = (pk, member_id)
        for rec in good:
            ref = rec.member
            current = self.assigned.get(rec.pk) if rec.pk is not None else None
            if current is None or ref[0] == "new" or current[1] != ref[1] or self.members.is_changed(ref):
                rec.changed = True
        self.tally()
        self.grid_note()

    def write(self):
        self.members.write(self.county.pk)
        self.write_households()
        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        user = self._user_or_none()
        by_id = user.pk if user is not None else None
        new, moved = [], []
        for rec in self.records:
            member_id = self.members.pk_of(rec.member)
            current = self.assigned.get(rec.pk)
            if current is None:
                new.append((rec.pk, member_id))
            elif current[1] != member_id:
                moved.append(Assignment(pk=current[0], member_id=member_id, updated_at=now))
                self.result.village_ids.add(rec.village_id)
        campaign_id = self.campaign.pk
        # Nothing links to a new 包联, so the database numbers them as the rows arrive (no keys reserved first).
        rows = ((campaign_id, household_id, member_id, by_id, stamp, stamp) for household_id, member_id in new)
        insert_rows(Assignment, ["campaign", "household", "member", "assigned_by", "created_at", "updated_at"], rows)
        if moved:
            Assignment.objects.bulk_update(moved, ["member", "updated_at"], batch_size=BATCH)
        if new or moved:
            self.result.village_ids |= {r.village_id for r in self.records if r.action != "unchanged"}

    def _user_or_none(self):
        return self.user if self.user is not None and self.user.is_authenticated else None
