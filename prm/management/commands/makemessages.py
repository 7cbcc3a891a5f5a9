"""`makemessages` that also extracts strings marked with `_lazy(...)`.

Services mark module-level texts (notification titles and bodies) with
`from django.utils.translation import gettext_lazy as _lazy`, beside `_` = gettext for texts
built per call. xgettext knows only the standard names, so those strings were never extracted
and stayed English in Russian notifications. Django's documented way: override the command
and add the keyword.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_lazy"]
