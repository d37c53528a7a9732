"""SPDX license identifiers accepted for submissions (a curated subset of the SPDX list).

Data and model licences are what contributors use in practice; anything else can be written as
`LicenseRef-<name>` with the licence text included in the submission.
"""

from __future__ import annotations

import re

KNOWN_LICENSES = frozenset({
    "0BSD", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-2.0", "Artistic-2.0",
    "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSL-1.0", "CC-BY-1.0", "CC-BY-2.0",
    "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-4.0",
    "CC-BY-ND-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-PDDC", "CC0-1.0", "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0", "CDLA-Sharing-1.0", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.2",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "ISC",
    "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "MIT", "MIT-0",
    "MPL-2.0", "MS-PL", "NCSA", "ODbL-1.0", "ODC-By-1.0", "OFL-1.1", "OpenRAIL", "PDDL-1.0",
    "PostgreSQL", "Python-2.0", "Unlicense", "UPL-1.0", "WTFPL", "Zlib",
})

_LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9.\-]+$")
_OPERATORS = re.compile(r"\s+(?:AND|OR|WITH)\s+")


def is_known_license(expression: str) -> bool:
    """True for a known identifier, a LicenseRef, or a simple AND/OR expression of them."""
    terms = _OPERATORS.split(expression.strip().strip("()"))
    return all(t in KNOWN_LICENSES or _LICENSE_REF.match(t) for t in terms)
