from .ledger import *  # noqa: F403
