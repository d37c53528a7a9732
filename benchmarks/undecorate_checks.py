"""benchmarks/mutation.sh's helper: rewrite `@check(...)` decorators of a checks module as calls.

mutmut 3 skips every decorated function (mutmut/mutation/file_mutation.py: "ignore decorated functions"), so
without this the bodies of the checks themselves are never mutated; only their undecorated helpers are. The
rewritten module registers the same functions under the same names, in the same stage, with the same codes.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def undecorate(path: Path) -> int:
    """Rewrite the file in place; returns how many checks were rewritten."""
    src = path.read_text(encoding="utf-8")
    lines = src.splitlines(keepends=True)
    edits = []
    for node in ast.parse(src).body:
        if isinstance(node, ast.FunctionDef) and len(node.decorator_list) == 1:
            dec = node.decorator_list[0]
            if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "check":
                assert dec.end_lineno is not None and node.end_lineno is not None
                edits.append((dec.lineno, dec.end_lineno, node.end_lineno, node.name,
                              ast.get_source_segment(src, dec)))
    for start, end, function_end, name, text in reversed(edits):
        lines.insert(function_end, f"{name} = {text}({name})\n")
        del lines[start - 1:end]
    path.write_text("".join(lines), encoding="utf-8")
    return len(edits)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    print(f"{target}: {undecorate(target)} checks undecorated", file=sys.stderr)
