"""Validation checks, one module per stage; importing this package registers them all."""

from cwcontrib.checks import evaluation, files, manifest, semantics, weights  # noqa: F401  (registration)
from cwcontrib.checks.base import CHECKS, STAGES, Check, Context, Options, check, checks_of

__all__ = ["CHECKS", "STAGES", "Check", "Context", "Options", "check", "checks_of"]
