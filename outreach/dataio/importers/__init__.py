"""The four kinds of import, each in two steps: check every row (lookups cached per file), then write in bulk.

An importer never writes while checking. ``check_row`` cleans each cell as its column declares
(``outreach.dataio.columns``), resolves villages, grids, members and households against caches loaded once
per file (inside the importer's scope), and records what the row would do; ``finish_check`` resolves what
needs all rows; ``write`` then runs inside the caller's transaction with a handful of bulk statements
(``outreach.dataio.writers``). One module per kind; ``base`` holds what they share.
"""

from outreach.campaigns.rules import import_campaign
from outreach.dataio.importers.households import HouseholdImporter
from outreach.dataio.importers.members import MemberImporter
from outreach.dataio.importers.registrations import RegistrationImporter
from outreach.dataio.importers.responsibility import ResponsibilityImporter

__all__ = ["IMPORTERS", "pick_campaign"]

IMPORTERS = {
    "responsibility": ResponsibilityImporter,
    "households": HouseholdImporter,
    "members": MemberImporter,
    "registrations": RegistrationImporter,
}


def pick_campaign(title: str = "", county=None, name: str | None = None):
    """The campaign rule for a sheet (``outreach.campaigns.rules.import_campaign``); raises ``CampaignRefused``."""
    return import_campaign(title, county, name)
