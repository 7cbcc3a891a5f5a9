from prm.models import Notification


def navigation(request):
    """Unread notification count for the bell; one cheap query, only for signed-in users."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()}
