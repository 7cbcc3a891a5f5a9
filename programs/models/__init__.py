from .ledger import *  # noqa: F403
from .rewards import *  # noqa: F403
from .tiers import *  # noqa: F401,F403
