"""Command-line interface: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tilestream import __version__
from tilestream.errors import TilestreamError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``tilestream`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="tilestream",
        description="Block-wise learned image compression, identical to full-image inference.",
    )
    parser.add_argument("--version", action="version", version=f"tilestream {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ov = commands.add_parser(
        "overlap",
        help="print the minimal halo of every transform of a model",
        description=(
            "Print, for each transform (g_a, h_a, h_s, g_s) of a CompressAI model, the "
            "per-layer overlaps l_n, r_n and the total halo. Offline: halos do not depend "
            "on weights."
        ),
    )
    ov.add_argument("model", help="a name from compressai.registry.MODELS, e.g. bmshj2018-hyperprior")
    ov.add_argument("--quality", type=int, default=None, help="zoo quality (channel configuration)")
    ov.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return parser


def _overlap(args: argparse.Namespace) -> int:
    from tilestream.overlap import format_overlap, overlap

    report = overlap(args.model, quality=args.quality)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.model}" + (f" (quality {args.quality})" if args.quality else ""))
        print(format_overlap(report), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 on a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"overlap": _overlap}
    try:
        return handlers[args.command](args)
    except TilestreamError as exc:
        print(f"tilestream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tilestream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
