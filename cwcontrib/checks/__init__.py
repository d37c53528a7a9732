"""Validation checks, one module per stage; importing this package registers them all."""

from cwcontrib.checks import files, manifest, semantics  # noqa: F401  (registration)
from cwcontrib.checks.base import CHECKS, STAGES, Check, Context, check, checks_of

__all__ = ["CHECKS", "STAGES", "Check", "Context", "check", "checks_of"]
