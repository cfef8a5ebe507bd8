from django.contrib import admin

from outreach.accounts.admin_base import CountyFilter, OutreachModelAdmin
from outreach.registrations.models import RegistrationReport


@admin.register(RegistrationReport)
class RegistrationReportAdmin(OutreachModelAdmin):
    date_hierarchy = "as_of"
    list_display = ["as_of", "county", "town", "registered", "verified", "population", "source"]
    list_select_related = ["county", "town"]
    list_filter = [CountyFilter, "as_of"]
    search_fields = ["county__name", "town__name"]
    autocomplete_fields = ["county", "town"]
