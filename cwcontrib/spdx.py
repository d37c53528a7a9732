"""Submission licences: SPDX license expressions, parsed by `packaging.licenses`, with a curated policy on top.

The parser (packaging's, which follows the SPDX specification and ships the SPDX list) decides what an
expression *is*: `(MIT OR Apache-2.0) AND CC-BY-4.0` and `Apache-2.0 WITH LLVM-exception` are expressions,
`OpenRAIL` is no SPDX identifier and `MIT WITH CC-BY-4.0` puts a licence where an exception belongs. The
policy decides what cwcontrib *accepts*: the licences contributors use for data and models, in their current
(not deprecated) SPDX ids; anything else is written `LicenseRef-<name>`, with its text in the submission at
`LICENSES/LicenseRef-<name>.txt` (the REUSE convention), so that readers know what they may do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

ACCEPTED_LICENSES = frozenset({
    "0BSD", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-2.0", "Artistic-2.0",
    "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSL-1.0", "CC-BY-1.0", "CC-BY-2.0",
    "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-4.0",
    "CC-BY-ND-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-PDDC", "CC0-1.0", "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0", "CDLA-Sharing-1.0", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.2",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "ISC",
    "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "MIT", "MIT-0",
    "MPL-2.0", "MS-PL", "NCSA", "ODbL-1.0", "ODC-By-1.0", "OFL-1.1", "PDDL-1.0",
    "PostgreSQL", "Python-2.0", "Unlicense", "UPL-1.0", "WTFPL", "Zlib",
})
LICENSE_REF_PREFIX = "LicenseRef-"
LICENSE_TEXT_FOLDER = "LICENSES"

_OPERATORS = frozenset({"AND", "OR"})


@dataclass(frozen=True)
class LicenseVerdict:
    """What cwcontrib makes of a submission's `license`."""

    expression: str
    canonical: str | None = None  # as SPDX writes it (`mit` -> `MIT`); None when it is no SPDX expression
    problem: str | None = None  # why it is refused, if it is
    references: tuple[str, ...] = ()  # the LicenseRef-... it names, each needing its text in the submission

    @property
    def accepted(self) -> bool:
        return self.problem is None


def license_text_path(reference: str) -> str:
    """Where the text of a `LicenseRef-...` licence lives in a submission."""
    return f"{LICENSE_TEXT_FOLDER}/{reference}.txt"


def _licenses_of(canonical: str) -> list[str]:
    """The licence identifiers of a canonical expression, without operators, parentheses or exceptions."""
    licenses, after_with = [], False
    for token in re.sub(r"[()]", " ", canonical).split():
        if token == "WITH":
            after_with = True
        elif after_with:
            after_with = False  # an exception: the parser checked it is one; every SPDX exception only adds rights
        elif token not in _OPERATORS:
            licenses.append(token)
    return licenses


def judge_license(expression: str) -> LicenseVerdict:
    try:
        canonical = canonicalize_license_expression(expression)
    except InvalidLicenseExpression as exc:
        return LicenseVerdict(expression, problem=f"{expression!r} is not an SPDX license expression ({exc})")
    licenses = _licenses_of(canonical)
    references = tuple(dict.fromkeys(x for x in licenses if x.startswith(LICENSE_REF_PREFIX)))
    refused = [x for x in licenses if x not in ACCEPTED_LICENSES and not x.startswith(LICENSE_REF_PREFIX)]
    problem = None
    if refused:
        problem = f"{', '.join(dict.fromkeys(refused))} is not among the licenses cwcontrib accepts"
    return LicenseVerdict(expression, canonical, problem, references)


def canonical_license(expression: str) -> str | None:
    """The expression as SPDX writes it (case and spacing), or None when it is not an SPDX expression."""
    return judge_license(expression).canonical
