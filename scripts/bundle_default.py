"""Pack trained default-model checkpoints into tilestream/weights/ and write MANIFEST.json.

Usage: python scripts/bundle_default.py DIR [--note TEXT]
DIR holds q1.pt, q2.pt, q3.pt written by scripts/train_default.sh.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import torch

from tilestream.models.registry import build_model
from tilestream.models.spec import read_checkpoint, spec_for
from tilestream.weights import DEFAULT_ARCH, DEFAULT_MODEL

TARGET = Path(__file__).resolve().parent.parent / "tilestream" / "weights"


def pack_checkpoint(source: Path, target: Path) -> None:
    """Store a trained checkpoint compactly: float16 weights, CDF tables recomputed for
    the rounded weights (so the stored tables are exactly those of the loaded model)."""
    state = read_checkpoint(str(source))
    rounded = {k: v.half().float() if v.is_floating_point() else v for k, v in state.items()}
    model = build_model(DEFAULT_MODEL, **DEFAULT_ARCH)
    model.load_state_dict(rounded)
    model.update(force=True)
    tables = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")
    packed = {
        k: v.half() if v.is_floating_point() and not k.endswith(tables) else v
        for k, v in model.state_dict().items()
    }
    torch.save({"state_dict": packed}, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    files = {}
    for q in (1, 2, 3):
        source = args.folder / f"q{q}.pt"
        meta = torch.load(source, map_location="cpu", weights_only=True).get("meta", {})
        target = TARGET / f"default-q{q}.pt"
        pack_checkpoint(source, target)
        files[f"q{q}"] = {
            "file": target.name,
            "file_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "lmbda": meta.get("lmbda"),
            "steps": meta.get("steps"),
        }
    manifest = {
        "model": DEFAULT_MODEL,
        "arch": DEFAULT_ARCH,
        "recipe": "scripts/train_default.sh",
        "note": args.note,
        "files": files,
    }
    (TARGET / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for q in (1, 2, 3):  # weights hash as loaded (after packing, float16 widened)
        spec, _ = spec_for(None, quality=q)
        files[f"q{q}"]["weights_sha256"] = spec.sha256
    (TARGET / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
