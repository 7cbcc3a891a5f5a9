"""Writes to cross-cutting records (the user's own preferences)."""

from django.conf import settings

from prm.models import User


def user_set_language(*, user: User, language: str) -> bool:
    """Remember the UI language on the profile, so e-mails and the next log-in use it too."""
    if language not in dict(settings.LANGUAGES) or user.language == language:
        return False
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    return True
