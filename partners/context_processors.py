from partners.selectors import next_steps_overdue_count


def staff_navigation(request):
    """Overdue next steps for the staff navigation badge (one query, staff only)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated or not user.is_vendor_staff:
        return {}
    return {"overdue_next_steps": next_steps_overdue_count(user=user)}
