"""Template helpers of the points pages (presentation only, no queries)."""

from django import template

from programs.views.ledger_display import describe_entry

register = template.Library()


@register.filter
def ledger_explanation(entry) -> str:
    """Why a ledger entry exists, in words: "Deal won R-2026-00042: 1,250 × 1.5 tier multiplier"."""
    return describe_entry(entry)


@register.simple_tag
def redemption_badge(status: str) -> str:
    """The Bootstrap badge class of a redemption status."""
    return {
        "requested": "text-bg-primary",
        "approved": "text-bg-info",
        "fulfilled": "text-bg-success",
        "rejected": "text-bg-danger",
        "cancelled": "text-bg-secondary",
    }.get(status, "text-bg-secondary")
