"""Template tags for lead pages shared by every cabinet page (the nav badge)."""

from django import template

from deals import selectors_leads

register = template.Library()


@register.simple_tag(takes_context=True)
def open_lead_offers(context) -> int:
    """How many leads wait for the partner user's answer: one COUNT on the inbox's partial
    index, at most once per request."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_partner_user:
        return 0
    if not hasattr(request, "_open_lead_offers"):
        request._open_lead_offers = selectors_leads.lead_inbox(user=user).count()
    return request._open_lead_offers
