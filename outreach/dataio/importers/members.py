"""党员名册, and the party members every sheet that names them resolves (by 党员编号, phone, or name within
their organization), new members and organizations made once per file."""

from django.db import connection
from django.utils import timezone

from outreach.dataio.cells import is_masked, text
from outreach.dataio.importers.base import Importer
from outreach.dataio.permissions import scoped
from outreach.dataio.writers import BATCH, insert_rows, reserve_ids
from outreach.lib.names import clean_name
from outreach.lib.phones import mask_phone
from outreach.people.models import PartyMember, PartyOrganization
from outreach.people.services import DateChange, affects_from, roster_corrections

# The member roster's own columns (党员名册 only); [name, phone, organization, 在岗, *these] per member.
ROSTER = ("joined_on", "left_on", "left_reason")


class MemberBook:
    """Party members of the county in scope, by id, phone and (organization, name); new ones made once."""

    def __init__(self, importer):
        self.importer = importer
        county = importer.county
        self.orgs = {
            clean_name(name): pk
            for pk, name in PartyOrganization.objects.filter(county=county).values_list("pk", "name")
        }
        self.new_orgs: dict[str, dict] = {}
        self.by_id, self.by_phone, self.by_org_name = {}, {}, {}
        qs = scoped(importer.user, PartyMember.objects.filter(county=county)).values_list(
            "pk", "name", "phone", "organization_id", "is_active", *ROSTER
        )
        for pk, name, phone, org_id, active, *roster in qs:
            self.by_id[pk] = [name, phone, org_id, active, *roster]
            if phone:
                self.by_phone.setdefault(phone, pk)
            self.by_org_name.setdefault((org_id, clean_name(name)), pk)
        # file-local members: key → ("new", index) or ("old", pk)
        self.new: list[list] = []  # [name, phone, org_key, active, joined_on, left_on, left_reason]
        self.new_by_phone: dict[str, int] = {}
        self.new_by_org_name: dict[tuple, int] = {}
        self.changes: dict[int, list] = {}
        self._last_memo, self._last_ref = None, None
        self.today = timezone.localdate()
        # (ref, field, old, new, new_row, why) of every roster date a row sets to a day already past.
        self.corrections: list[tuple] = []

    def org_key(self, name, town_id, village_id):
        """An existing organization id, or ("new", name) registered for creation."""
        name = clean_name(name)[:100]
        if name in self.orgs:
            return self.orgs[name]
        if name not in self.new_orgs:
            kind = PartyOrganization.Kind.BRANCH
            if name.endswith("党委"):
                kind = PartyOrganization.Kind.COMMITTEE
            elif name.endswith("党总支"):
                kind = PartyOrganization.Kind.GENERAL_BRANCH
            imp = self.importer
            village_name = imp.village_names.get(village_id, ("", None))[0] if village_id else ""
            town_name = imp.town_names.get(town_id, "") if town_id else ""
            self.new_orgs[name] = {
                "kind": kind,
                "village_id": village_id if village_name and name.startswith(village_name) else None,
                "town_id": town_id
                if (village_name and name.startswith(village_name)) or (town_name and name.startswith(town_name))
                else None,
            }
        return ("new", name)

    def resolve(self, row_no, values, town_id, village_id, default_active=True, update=True):
        """A member reference ("old", pk) or ("new", index), or None after reporting an error.

        A member is named once over their ten households (the cells filled down), so the answer for the same
        cells in the same place is the one just given: resolving them again would change nothing.
        """
        memo = (
            values.get("member_name"), values.get("member_id"), values.get("member_phone"),
            values.get("organization"), values.get("is_active"), "is_active" in values, town_id, village_id,
            default_active, update,
        )  # fmt: skip
        if memo == self._last_memo:
            return self._last_ref
        ref = self._resolve(row_no, values, town_id, village_id, default_active, update)
        # Errors are not remembered: each row with them is reported.
        self._last_memo, self._last_ref = (memo, ref) if ref is not None else (None, None)
        return ref

    def _resolve(self, row_no, values, town_id, village_id, default_active, update):
        imp = self.importer
        name = clean_name(text(values.get("member_name")))[:30]
        member_id, ok = imp.clean(row_no, values, "member_id")
        if not ok:
            return None
        raw_phone = values.get("member_phone")
        phone, ok = ("", True) if is_masked(raw_phone) else imp.clean(row_no, values, "member_phone")
        if not ok:
            return None
        org_name = clean_name(text(values.get("organization")))
        active = default_active
        if "is_active" in values and values.get("is_active") not in (None, ""):
            active, ok = imp.clean(row_no, values, "is_active")
            if not ok:
                return None
        if not name:
            imp.error(row_no, "member_name", "不能为空")
            return None
        roster = {}
        for key in ROSTER:
            if key in values:
                roster[key], ok = imp.clean(row_no, values, key)
                if not ok:
                    return None
        if roster.get("left_on") and not roster.get("left_reason"):
            imp.error(row_no, "left_reason", "填写了离开日期，须写明离开原因（组织关系转出、去世等）")
            return None
        if roster.get("left_reason") and not roster.get("left_on"):
            imp.error(row_no, "left_on", "写了离开原因，须填写离开日期")
            return None
        why = text(values.get("correction_reason"))[:300]
        if member_id is not None:
            current = self.by_id.get(member_id)
            if current is None:
                imp.error(row_no, "member_id", f"党员编号 {member_id} 不存在或不在您的管辖范围内")
                return None
            if is_masked(raw_phone):
                if mask_phone(current[1]) != text(raw_phone):
                    imp.error(row_no, "member_phone", "电话号码被隐藏（带*），只能原样保留或填写完整号码")
                    return None
                phone = current[1]
            pk = member_id
        else:
            if is_masked(raw_phone):
                imp.error(row_no, "member_phone", "电话号码被隐藏（带*），请填写完整号码")
                return None
            # By phone; else by name within the organization, but never over a different phone number.
            pk = self.by_phone.get(phone) if phone else None
            if pk is None and phone and phone in self.new_by_phone:
                return ("new", self.new_by_phone[phone])
            if pk is None and org_name:
                org = self.org_key(org_name, town_id, village_id)
                if isinstance(org, int):
                    pk = self.by_org_name.get((org, name))
                    if pk is not None and phone and self.by_id[pk][1]:
                        pk = None
                if pk is None:
                    index = self.new_by_org_name.get((org, name))
                    if index is not None and not (phone and self.new[index][1]):
                        if phone:
                            self.new[index][1] = phone
                            self.new_by_phone[phone] = index
                        return ("new", index)
            if pk is None:
                if not org_name:
                    imp.error(row_no, "organization", "新党员须填写所在党组织")
                    return None
                org = self.org_key(org_name, town_id, village_id)
                index = len(self.new)
                joined = roster.get("joined_on") or self.today
                left = roster.get("left_on")
                if not self.check_dates(row_no, ("new", index), joined, left, why, [("joined_on", None, joined)]
                                        + ([("left_on", None, left)] if left else []), new_row=True):  # fmt: skip
                    return None
                self.new.append([name, phone, org, active, joined, left, roster.get("left_reason") or ""])
                if phone:
                    self.new_by_phone[phone] = index
                self.new_by_org_name[(org, name)] = index
                return ("new", index)
        if update:
            current = self.changes.get(pk) or list(self.by_id[pk])
            wanted = list(current)
            wanted[0] = name
            if phone:
                wanted[1] = phone
            if org_name:
                wanted[2] = self.org_key(org_name, town_id, village_id)
            wanted[3] = active if "is_active" in values and values.get("is_active") not in (None, "") else current[3]
            for i, key in enumerate(ROSTER, start=4):
                if roster.get(key):
                    wanted[i] = roster[key]
            stored = self.by_id[pk]
            dates = [
                (key, stored[i], wanted[i]) for i, key in ((4, "joined_on"), (5, "left_on")) if wanted[i] != stored[i]
            ]
            if not self.check_dates(row_no, ("old", pk), wanted[4], wanted[5], why, dates):
                return None
            if wanted != stored:
                self.changes[pk] = wanted
        return ("old", pk)

    def check_dates(self, row_no, ref, joined, left, why, dates, new_row=False) -> bool:
        """A left date before the joined one is refused; one set to a past day needs the 更正原因 column."""
        imp = self.importer
        if left is not None and left < joined:
            imp.error(row_no, "left_on", "离开日期不能早于列入名册日期")
            return False
        for key, old, new in dates:
            first = affects_from(DateChange(None, key, old, new, new_row), self.today)
            if first is None:
                continue
            if not why:
                imp.error(
                    row_no,
                    key,
                    f"{new:%Y-%m-%d}早于今天，会改变{first:%Y-%m-%d}以来已经发布的数字（事后更正），请在“更正原因”列写明原因",
                )
                return False
            self.corrections.append((ref, key, old, new, new_row, why))
        return True

    def is_changed(self, ref) -> bool:
        return ref is not None and ref[0] == "old" and ref[1] in self.changes

    def write(self, county_id):
        if self.new_orgs:
            created = PartyOrganization.objects.bulk_create(
                [PartyOrganization(name=n, county_id=county_id, **spec) for n, spec in self.new_orgs.items()]
            )
            for org in created:
                self.orgs[org.name] = org.pk
            if any(o.pk is None for o in created):
                self.orgs.update(
                    {n: pk for pk, n in PartyOrganization.objects.filter(county_id=county_id).values_list("pk", "name")}
                )
            self.importer.result.notes.append(
                f"新建党组织 {len(self.new_orgs)} 个：{'、'.join(list(self.new_orgs)[:10])}"
            )

        def org_id(ref):
            return ref if isinstance(ref, int) else self.orgs[ref[1]]

        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        # Keys reserved first, rows sent by COPY / executemany: the 包联 of this file link to them directly.
        self.new_pks = reserve_ids(PartyMember, len(self.new))
        insert_rows(
            PartyMember,
            ["id", "name", "phone", "organization", "county", "is_active", *ROSTER, "created_at", "updated_at"],
            [
                (pk, n, p, org_id(o), county_id, a, j, left, why, stamp, stamp)
                for pk, (n, p, o, a, j, left, why) in zip(self.new_pks, self.new, strict=True)
            ],
        )
        updates = []
        for pk, (n, p, o, a, j, left, why) in self.changes.items():
            updates.append(
                PartyMember(
                    pk=pk, name=n, phone=p, organization_id=org_id(o), county_id=county_id, is_active=a,
                    joined_on=j, left_on=left, left_reason=why, updated_at=now,
                )
            )  # fmt: skip
        # The organizations whose 在岗党员数 changed, before and after a move (an agency branch has no village).
        touched = {org_id(o) for _, _, o, *_rest in self.new}
        touched |= {org_id(o) for _, _, o, *_rest in self.changes.values()}
        touched |= {self.by_id[pk][2] for pk in self.changes if pk in self.by_id}
        self.importer.result.organization_ids |= touched
        if updates:
            PartyMember.objects.bulk_update(
                updates,
                ["name", "phone", "organization", "is_active", *ROSTER, "updated_at"],
                batch_size=BATCH,
            )
        self.record_corrections()
        # The summaries of the members' organizations (through their villages) count the new roster.
        org_ids = {org_id(o) for _n, _p, o, *_rest in self.new} | {m.organization_id for m in updates}
        self.importer.result.village_ids |= set(
            PartyOrganization.objects.filter(pk__in=org_ids, village__isnull=False).values_list("village_id", flat=True)
        )
        if self.new:
            self.importer.result.notes.append(f"新建党员 {len(self.new)} 名")
        if updates:
            self.importer.result.notes.append(f"更新党员信息 {len(updates)} 名")

    def record_corrections(self):
        if not self.corrections:
            return
        pks = {self.pk_of(ref) for ref, *_ in self.corrections}
        members = PartyMember.objects.select_related("organization").in_bulk(pks)
        by_reason: dict[str, list[DateChange]] = {}
        for ref, key, old, new, new_row, why in self.corrections:
            by_reason.setdefault(why, []).append(DateChange(members[self.pk_of(ref)], key, old, new, new_row))
        for why, changes in by_reason.items():
            roster_corrections(changes, user=self.importer.user, reason=f"党员名册导入：{why}")

    def pk_of(self, ref) -> int:
        return ref[1] if ref[0] == "old" else self.new_pks[ref[1]]


class MemberImporter(Importer):
    """党员名册: members matched by 党员编号, phone, or name within their organization."""

    kind = "members"
    subject = "党员名册"
    preview_keys = ("member_name", "organization", "town", "village", "is_active", "member_id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.load_places()
        self.members = MemberBook(self)
        self.seen: dict[tuple, int] = {}
        self.refs = []

    def check_row(self, row_no, values):
        town_id, ok = self.town_of(row_no, values)
        village_id = None
        if ok and clean_name(text(values.get("village"))):
            village_id = self.village_of(row_no, values, town_id)
            if village_id is None:
                return
            town_id = self.village_names[village_id][1]
        if not ok:
            return
        before = (len(self.members.new), set(self.members.changes))
        ref = self.members.resolve(row_no, values, town_id, village_id)
        if ref is None:
            return
        if ref in self.seen:
            self.error(row_no, "member_name", f"与本表第{self.seen[ref]}行是同一名党员")
            return
        self.seen[ref] = row_no
        if ref[0] == "new":
            action = "new"
        elif ref[1] in self.members.changes and ref[1] not in before[1]:
            action = "updated"
        else:
            action = "unchanged"
        self.count(action)
        self.add_preview(action, row_no, values)

    def write(self):
        self.members.write(self.county.pk)
