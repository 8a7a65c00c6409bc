"""Content negotiation that never refuses: the API speaks JSON (and problem+json for
errors, streams for exports); an ``Accept`` header asking for something else gets JSON
rather than a 406, as most JSON APIs do."""

from rest_framework.negotiation import DefaultContentNegotiation


class Negotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Exception:
            renderer = renderers[0]
            return renderer, renderer.media_type
