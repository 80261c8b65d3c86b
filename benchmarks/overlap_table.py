"""Print the halo table of every supported model (the README's overlap table).

Usage: python benchmarks/overlap_table.py [--json]
"""

from __future__ import annotations

import argparse
import sys
import json
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # HERE_ROOT: run from a checkout
from tilestream.overlap import overlap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELS  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="accepted for run_all; same output")
    args = parser.parse_args()
    table = {name: overlap(name, quality=q) for name, q in MODELS}
    if args.json:
        print(json.dumps({n: {t: r["halo"] for t, r in rep.items()} for n, rep in table.items()}))
        return
    print("| model | g_a (↓16) | h_a (↓4) | h_s (↑4) | g_s (↑16) |")
    print("|---|---|---|---|---|")
    for name, report in table.items():
        cells = [
            ", ".join(map(str, report[t]["halo"])) if t in report else "–"
            for t in ("g_a", "h_a", "h_s", "g_s")
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
