from celery import shared_task
from django.db import transaction
from django.utils import timezone

from prm.emails import render_email, send_rendered
from prm.models import Notification


@shared_task(bind=True, acks_late=True, max_retries=5, retry_backoff=True, retry_backoff_max=600)
def notification_email(self, notification_id: int) -> bool:
    """E-mail one notification. Safe to run twice: the first run claims it by UPDATE."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return False
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    subject, text, html = render_email(
        "emails/notification",
        {"notification": notification, "user": notification.user},
        language=notification.user.language,
    )
    try:
        send_rendered(to=[notification.user.email], subject=subject, text=text, html=html)
    except Exception as exc:
        # Release the claim so the retry can send it.
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        raise self.retry(exc=exc) from exc
    return True


@shared_task(bind=True, acks_late=True, max_retries=5, retry_backoff=True, retry_backoff_max=600)
def email_send(self, *, to: list[str], subject: str, text: str, html: str = "") -> None:
    """Send an already-rendered e-mail (invitations, password resets)."""
    try:
        send_rendered(to=to, subject=subject, text=text, html=html)
    except Exception as exc:
        raise self.retry(exc=exc) from exc


def email_send_on_commit(*, to: list[str], subject: str, text: str, html: str = "") -> None:
    transaction.on_commit(lambda: email_send.delay(to=to, subject=subject, text=text, html=html))
