"""In-app notifications, e-mailed by a Celery task when the user wants e-mail."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from prm.models import Notification


def notification_send(
    *,
    user,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    dedupe_key: str = "",
    email: bool = True,
) -> Notification | None:
    """Create a notification (once per `dedupe_key`) and e-mail it after commit.

    Returns None when this key was already sent to this user: reminders run on schedules
    that may fire twice, and the unique constraint makes the second one a no-op.
    """
    if not user.is_active:
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user=user, kind=kind, title=title[:255], body=body, url=url, dedupe_key=dedupe_key
            )
    except IntegrityError:
        return None
    if email and user.email_notifications:
        from prm.tasks import notification_email

        transaction.on_commit(lambda: notification_email.delay(notification.pk))
    return notification


def notification_mark_read(*, user, notification_ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())
