from .ledger import *  # noqa: F403
from .ledger_accrual import *  # noqa: F403
from .ledger_clawback import *  # noqa: F403
from .rewards import *  # noqa: F403
from .tiers import *  # noqa: F401,F403
