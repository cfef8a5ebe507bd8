"""Signals that let the layers on top (dashboards) follow writes made below them, without being imported.

Senders: any service that writes households, assignments, visits or registration reports in bulk or one by
one (visits.services.record_visit, the importers, the demo), either inside the writing transaction (so a
receiver's own writes commit with it) or on commit. Receivers refresh or mark what they derive from those
rows (summary tables) and must stay cheap.
"""

from django.dispatch import Signal

# kwargs: village_ids (a set of Village pks whose households, assignments or visits changed) and, optionally,
# organization_ids (PartyOrganization pks whose members changed: an agency branch has no village to name).
field_data_changed = Signal()
# kwargs: county_ids (a set of County pks whose RegistrationReport rows changed), dates (a set of dates).
# Nothing listens today: rankings read RegistrationReport directly, there is no summary of it to refresh.
registration_data_changed = Signal()
