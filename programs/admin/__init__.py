from .tiers import *  # noqa: F401,F403
