"""Write template.yaml with its ``Fn::ForEach`` loops expanded (``template.load_template``), for the tools that
read a template but not the ``AWS::LanguageExtensions`` transform (checkov: ``make scan``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from devtools.local_stack.template import load_template


def main(argv: list[str] | None = None) -> int:
    target = Path((argv if argv is not None else sys.argv[1:])[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(load_template(), indent=1))
    print(f"{target}: template.yaml with its loops expanded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
