"""Partner reminders. Each is safe to run twice: notifications carry a dedupe key."""

from datetime import timedelta

from celery import shared_task
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import override

from partners.models import Agreement, AgreementStatus, Interaction
from prm.notifications import notification_send


@shared_task(acks_late=True, time_limit=600)
def next_step_reminders(today: str | None = None) -> int:
    """Tell each author about next steps due today or overdue and not yet reminded."""
    day = timezone.localdate() if today is None else timezone.datetime.fromisoformat(today).date()
    steps = (
        Interaction.objects.filter(next_step_done_at__isnull=True, next_step_due__lte=day, author__isnull=False)
        .exclude(next_step="")
        .select_related("author", "partner")
        .order_by("pk")
    )
    sent = 0
    for step in steps.iterator(chunk_size=500):
        with override(step.author.language):
            notification = notification_send(
                user=step.author,
                kind="next_step_due",
                title=_("Next step due: %(step)s (%(partner)s)")
                % {"step": step.next_step[:120], "partner": step.partner.name},
                body=_("Due on %(date)s.") % {"date": date_format(step.next_step_due, "SHORT_DATE_FORMAT")},
                url=reverse("staff:partner_detail", args=[step.partner.public_id]),
                dedupe_key=f"next-step:{step.pk}:{step.next_step_due.isoformat()}",
            )
        sent += notification is not None
    return sent


@shared_task(acks_late=True, time_limit=600)
def agreement_renewal_reminders(today: str | None = None) -> int:
    """Warn the responsible manager (else the partner's owner) 30 and 7 days before an agreement ends."""
    day = timezone.localdate() if today is None else timezone.datetime.fromisoformat(today).date()
    sent = 0
    for days_left in (30, 7):
        agreements = Agreement.objects.filter(
            status=AgreementStatus.ACTIVE, ends_on__gt=day, ends_on__lte=day + timedelta(days=days_left)
        ).select_related("partner__owner", "vendor_responsible")
        for agreement in agreements.order_by("pk"):
            user = agreement.vendor_responsible or agreement.partner.owner
            if user is None:
                continue
            with override(user.language):
                if agreement.auto_renew:
                    title = _("Agreement %(number)s with %(partner)s renews automatically on %(date)s")
                else:
                    title = _("Agreement %(number)s with %(partner)s ends on %(date)s")
                notification = notification_send(
                    user=user,
                    kind="agreement_renewal",
                    title=title
                    % {
                        "number": agreement.number,
                        "partner": agreement.partner.name,
                        "date": date_format(agreement.ends_on, "SHORT_DATE_FORMAT"),
                    },
                    url=reverse("staff:partner_detail", args=[agreement.partner.public_id]),
                    dedupe_key=f"agreement-renewal-{days_left}d:{agreement.pk}:{agreement.ends_on.isoformat()}",
                )
            sent += notification is not None
    return sent


@shared_task(acks_late=True, time_limit=600)
def certification_expiry_reminders(today: str | None = None) -> int:
    """Tell partner admins 30 days ahead that one of their people's certificates expires (once each)."""
    from partners.services import certification_expiry_reminders as remind

    day = timezone.localdate() if today is None else timezone.datetime.fromisoformat(today).date()
    return remind(today=day, days=30)
