"""One read of the campaign table per request, however often the request asks the campaign rule."""

from outreach.campaigns.rules import one_snapshot


class CampaignSnapshotMiddleware:
    """Opens the campaign rule's snapshot for the request (``rules.one_snapshot``); nothing outlives it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with one_snapshot():
            return self.get_response(request)
