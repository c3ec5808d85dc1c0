"""After ``sam build``: the layer's native libraries are built for the functions' architecture (arm64).

SAM reuses cached builds by source hash, so a build for another platform (``make bench`` builds one for this
machine) must never end up in the deployed layer; this check makes ``make build`` fail if it does.

    python -m devtools.build.check_layer [.aws-sam/build/EventsLayer]
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from devtools import ROOT

ELF_MACHINES = {62: "x86_64", 183: "arm64"}


def machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return "not ELF"
    endian = "<" if header[5] == 1 else ">"
    (code,) = struct.unpack(endian + "H", header[18:20])
    return ELF_MACHINES.get(code, f"machine {code}")


def main(argv: list[str] | None = None) -> int:
    layer = Path((argv or sys.argv[1:] or [str(ROOT / ".aws-sam" / "build" / "EventsLayer")])[0])
    libraries = sorted(layer.rglob("*.so"))
    wrong = [f"{p.relative_to(layer)}: {machine(p)}" for p in libraries if machine(p) != "arm64"]
    if not libraries or wrong:
        print("the layer is not built for arm64:", *(wrong or ["no native library found"]), sep="\n  ", file=sys.stderr)
        return 1
    print(f"layer OK: {len(libraries)} native libraries, all arm64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
