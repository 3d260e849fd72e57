"""The one identity split of the project: which LFW identities models may never see.

A rule on the name, not a random draw, so that the training sets (tools.make_regset), the
evaluation sets (tools.make_evalset) and any later session agree without sharing a file: an
identity is held out iff sha256(name) mod 5 == 0 (about a fifth of LFW's identities).
"""
from __future__ import annotations

import hashlib


def heldout(identity: str) -> bool:
    return int(hashlib.sha256(identity.encode('utf-8')).hexdigest(), 16) % 5 == 0


def validation(identity: str, fraction: float) -> bool:
    """Among the identities models may see: the ones a trainer keeps back to choose checkpoints and
    settings (a rule on the name again, independent of `heldout`)."""
    return int(hashlib.sha256(f'validation:{identity}'.encode('utf-8')).hexdigest(), 16) % 1000 < round(fraction * 1000)
