"""Command-line interface: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from tilestream import __version__
from tilestream.errors import TilestreamError

__all__ = ["main", "build_parser", "parse_region"]


def parse_region(text: str) -> tuple[int, int, int, int]:
    """Parse ``Y0:Y1,X0:X1`` into a tuple of ints."""
    try:
        ys, xs = text.split(",")
        y0, y1 = (int(v) for v in ys.split(":"))
        x0, x1 = (int(v) for v in xs.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"region {text!r} is not Y0:Y1,X0:X1 (e.g. 0:512,1024:1536)"
        ) from exc
    return y0, y1, x0, x1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _weights_args(p: argparse.ArgumentParser, *, encode: bool) -> None:
    if encode:
        p.add_argument("--model", help="CompressAI model name (default: the bundled model)")
        p.add_argument("--quality", type=int, help="rate point: 1-3 for the bundled model; zoo quality otherwise")
        p.add_argument("--pretrained", action="store_true", help="use CompressAI's published weights")
    p.add_argument("--checkpoint", help="state dict of the model (torch.save(model.state_dict()))")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument(
        "--scheduler", default=None,
        help="dask scheduler address, or 'processes' for a local cluster of single-threaded worker processes "
        "(one per core); default: local threads",
    )
    p.add_argument(
        "--batch", type=int, default=None, metavar="N",
        help="blocks of a row per forward pass of the synthesis / analysis transform (default 1 on cpu, "
        "4 on cuda; the output is the same whatever N)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _storage_args(p)


def _storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage-option", action="append", default=[], metavar="KEY=VALUE",
        help="fsspec option for s3:// gs:// … URLs, e.g. endpoint_url=http://127.0.0.1:9000 (repeatable; "
        "also TILESTREAM_STORAGE_OPTIONS and the filesystem's own environment, e.g. AWS_ENDPOINT_URL)",
    )


def _storage(args: argparse.Namespace) -> dict[str, Any] | None:
    from tilestream.storage import parse_storage_options

    return parse_storage_options(getattr(args, "storage_option", None)) or None


def build_parser() -> argparse.ArgumentParser:
    """The ``tilestream`` argument parser."""
    parser = _Parser(
        prog="tilestream",
        description="Block-wise learned image compression, identical to full-image inference.",
    )
    parser.add_argument("--version", action="version", version=f"tilestream {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    enc = commands.add_parser("encode", help="compress an image (TIFF, BigTIFF, zarr) into a container")
    enc.add_argument("input", help="TIFF / BigTIFF file or zarr array (a path or a URL: s3://bucket/scene.tif)")
    enc.add_argument("output", help="container: a folder, a file ending in .zip, or a URL (s3://bucket/scene.tsz)")
    enc.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted encode to OUTPUT from the chunks it wrote (same input, weights and options)",
    )
    enc.add_argument(
        "--block", type=int, default=None,
        help="transform block side in pixels, multiple of 64 (default 512): the unit of memory",
    )
    enc.add_argument(
        "--chunk", type=int, default=None,
        help="entropy chunk side in pixels, a multiple of --block (default 1024, or the block when larger): the "
        "unit of random access; each chunk's streams cost ~16 bytes of flush and framing",
    )
    enc.add_argument("--nodata", type=float, default=None, help="value of pixels without data (default: the GDAL_NODATA tag)")
    enc.add_argument(
        "--transfer", choices=("auto", "linear", "sqrt"), default="auto",
        help="curve of samples wider than 8 bits after the per-band linear map: auto (square root for bands "
             "crowded at the bottom of their range), linear or sqrt (default auto)",
    )
    _weights_args(enc, encode=True)

    dec = commands.add_parser("decode", help="decode a container into a tiled BigTIFF or zarr array")
    dec.add_argument("input", help="container written by 'tilestream encode'")
    dec.add_argument("output", help="*.tif / *.tiff for a tiled BigTIFF, otherwise a zarr array")
    dec.add_argument("--region", type=parse_region, help="decode only Y0:Y1,X0:X1")
    dec.add_argument(
        "--block", type=int, default=None,
        help="transform block side in pixels, multiple of 64 (default 512): the unit of memory of the synthesis",
    )
    dec.add_argument(
        "--on-damage", choices=("fail", "fill"), default="fail",
        help="fail (default): stop at a damaged chunk (exit 2); fill: decode the rest, fill the pixels that "
        "depend on damaged chunks with nodata (or 0), list them on stderr and in a JSON report (exit 3)",
    )
    dec.add_argument("--damage-report", metavar="PATH", help="JSON report of --on-damage fill (default OUTPUT.damage.json)")
    dec.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted decode to a zarr OUTPUT or a local TIFF from the block rows it wrote (same "
        "container, weights and options); COGs, TIFFs on object storage and regions are not resumable",
    )
    dec.add_argument(
        "--format", choices=("auto", "tiff", "cog", "ome-tiff", "zarr", "ome-zarr"), default="auto",
        help="output format: auto (default: a tiled BigTIFF for *.tif, zarr otherwise; with --overviews a COG, a "
        "pyramidal OME-TIFF for *.ome.tif, or OME-Zarr), tiff, cog (Cloud-Optimized GeoTIFF with internal overviews), "
        "ome-tiff (levels in SubIFDs), zarr or ome-zarr (NGFF 0.5 multiscales)",
    )
    dec.add_argument(
        "--overviews", action="store_true",
        help="build a pyramid down to one tile while decoding (a .tif becomes a COG, a zarr output OME-Zarr)",
    )
    dec.add_argument(
        "--compress", choices=("deflate", "zstd", "lzw", "jpeg", "none"), default="deflate",
        help="compression of a COG's or OME-TIFF's tiles (default deflate, lossless; jpeg: 8-bit images of 1 or 3 bands)",
    )
    dec.add_argument(
        "--resampling", choices=("average", "nearest", "mode"), default="average",
        help="reduction of the overviews: area mean (default), nearest or mode (categorical rasters, masks)",
    )
    _weights_args(dec, encode=False)

    ver = commands.add_parser(
        "verify", help="check every chunk's checksum of a container, without decoding",
        description="Read every chunk of every stream and check its CRC-32 (bound to its position in "
        "format 1.4). Exit 0 when all match, 2 naming the damaged chunks otherwise.",
    )
    ver.add_argument("input", help="container written by 'tilestream encode'")
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    _storage_args(ver)

    info = commands.add_parser("info", help="describe a container")
    info.add_argument("input", help="container written by 'tilestream encode'")
    info.add_argument("--json", action="store_true", help="print JSON")
    _storage_args(info)

    cmp = commands.add_parser(
        "compare",
        help="compare a decoded image with its original, per band, in the data's own units",
        description=(
            "Per band RMSE, max absolute error and PSNR over the band's valid data range; for "
            "3 or more bands the mean spectral angle. Streams block by block; nodata excluded."
        ),
    )
    cmp.add_argument("original", help="the original image (TIFF, zarr)")
    cmp.add_argument("decoded", help="the decoded image (TIFF, zarr)")
    cmp.add_argument("--nodata", type=float, help="nodata value of the original (default: its GDAL_NODATA tag)")
    cmp.add_argument("--json", action="store_true", help="print JSON")

    tr = commands.add_parser(
        "train",
        help="train or fine-tune a model with CompressAI's rate-distortion loss",
        description=(
            "Train (or fine-tune with --init) a CompressAI model on random crops drawn lazily "
            "from folders of photos and from large TIFF / zarr images (any band count; uint8, "
            "uint16, int16, uint32, int32, float32, mapped into [0, 1] per band as the encoder "
            "maps them). Writes OUT (weights with updated CDF tables, usable by --checkpoint) "
            "and OUT.state (resumable)."
        ),
    )
    tr.add_argument("data", nargs="+", help="folders / files: JPEG, PNG, TIFF, zarr")
    tr.add_argument("--out", required=True, help="output checkpoint path")
    tr.add_argument("--model", default="mbt2018-mean", help="architecture (default mbt2018-mean)")
    tr.add_argument("--quality", type=int, help="zoo channel configuration")
    tr.add_argument(
        "--arch",
        help="architecture arguments instead of --quality, e.g. N=64,M=96; channels=C for a model of "
        "C-band images (bands are coded C at a time), e.g. channels=4,N=64,M=96",
    )
    tr.add_argument("--nodata", type=float, default=None, help="nodata value of TIFF / zarr sources (default: their GDAL_NODATA tag)")
    tr.add_argument("--lmbda", type=float, default=0.0067, help="rate-distortion trade-off λ (default 0.0067)")
    tr.add_argument("--steps", type=int, default=10000, help="total optimisation steps")
    tr.add_argument("--crop", type=int, default=256, help="crop side in pixels (multiple of 64)")
    tr.add_argument("--batch", type=int, default=8, help="crops per step")
    tr.add_argument("--lr", type=float, default=1e-4, help="learning rate (Adam)")
    tr.add_argument("--checkpoint-every", type=int, default=500, help="save OUT.state every N steps")
    tr.add_argument("--init", help="start from this checkpoint (fine-tuning)")
    tr.add_argument("--resume", help="continue from an OUT.state file")
    tr.add_argument("--exclude-heldout", action="store_true", help="leave out the corpus' held-out photos")
    tr.add_argument("--log", help="append a progress line every 50 steps to this file")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu", help="torch device (default cpu)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

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


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.quiet else None


def _encode(args: argparse.Namespace) -> int:
    from tilestream.pipeline import DEFAULT_BLOCK, encode

    if args.model is not None and args.checkpoint is None and not args.pretrained:
        raise TilestreamError(
            f"no weights for {args.model}; pass --checkpoint PATH or --pretrained"
        )
    result = encode(
        args.input,
        args.output,
        model=args.model,
        quality=args.quality,
        checkpoint=args.checkpoint,
        pretrained=args.pretrained,
        block=DEFAULT_BLOCK if args.block is None else args.block,  # --block 0 is refused, not the default
        chunk=args.chunk,
        device=args.device,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        progress=_progress(args),
        nodata=args.nodata,
        transfer=args.transfer,
        resume=args.resume,
        storage_options=_storage(args),
        batch=args.batch,
    )
    if not args.quiet:
        h, w = result.image_shape
        print(f"{args.output}: {h}x{w}, {result.stream_bytes} bytes, {result.bpp:.4f} bpp, {result.blocks} chunks")
    return 0


def _decode(args: argparse.Namespace) -> int:
    from tilestream.pipeline import decode

    done = decode(
        args.input,
        args.output,
        checkpoint=args.checkpoint,
        device=args.device,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        progress=_progress(args),
        region=args.region,
        storage_options=_storage(args),
        on_damage=args.on_damage,
        damage_report=args.damage_report,
        resume=args.resume,
        format=args.format,
        overviews=args.overviews,
        compress=args.compress,
        resampling=args.resampling,
        batch=args.batch,
        block=args.block,
    )
    if getattr(done, "damage", None) is not None:
        return 3  # the damaged chunks and filled regions are on stderr already
    if not args.quiet:
        print(f"{args.output}: decoded")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from tilestream.container.verify import verify

    report = verify(args.input, _storage(args))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    if not report.ok:
        raise TilestreamError(report.summary())
    if not args.json:
        print(report.summary())
    return 0


def _info(args: argparse.Namespace) -> int:
    from tilestream.container import ContainerReader

    with ContainerReader(args.input, _storage(args)) as reader:
        report = reader.summary()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    model = report["model"]
    h, w = report["shape"][:2]
    quality = f" quality {model['quality']}" if model.get("quality") is not None else ""
    grid, latent, hyper = report["chunk_grid"], report["latent_shape"], report["hyper_shape"]
    print(f"{args.input}")
    print(f"  format        tilestream {report['format_version']} (written by tilestream {report['tilestream_version']})")
    print(f"  image         {h} x {w}, {report['channels']} channel(s), {report['dtype']}")
    if report["georeferenced"]:
        crs = f"EPSG:{report['crs_epsg']}" if report["crs_epsg"] else "CRS without an EPSG code"
        size = report["pixel_size"]
        print(f"  georeference  {crs}" + (f", pixel {size[0]:g} x {size[1]:g}" if size else ""))
    groups, per = report["band_groups"], report["pixel_format"].get("model_channels", 3)
    if len(groups) > 1 or per != 3:
        print(f"  band groups   {' '.join('(' + ','.join(map(str, g)) + ')' for g in groups)}, {per} channels each")
    ranges = report["pixel_format"]["value_range"]
    curves = report["pixel_format"].get("transfer") or ["linear"] * len(ranges)
    print("  value range   " + ", ".join(
        f"band {c}: {lo:g}..{hi:g}" + (f" ({t})" if t != "linear" else "") for c, ((lo, hi), t) in enumerate(zip(ranges, curves))
    ))
    print(f"  model         {model['name']}{quality} ({model.get('family')}; {report['weights_origin']})")
    print(f"  weights       sha256 {model['sha256']}")
    print(f"  size          {report['bytes']} bytes, {report['bpp']:.4f} bpp")
    print(f"  chunks        {report['block']} px, grid {grid[0]} x {grid[1]}, streams {', '.join(report['streams'])}")
    print(f"  latent        y {latent[0]} x {latent[1]}, z {hyper[0]} x {hyper[1]}")
    print("  halos         " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in report["halos"].items()))
    phases = report["phases"]
    if phases:
        print(f"  phases        {len(phases)} coded stream(s) of y, decoded in order")
        for p in phases:
            print(f"    {p['stream']:<12} {p['phase']}: reads {p['reads']} (grid {p['grid'][0]} x {p['grid'][1]})")
        if report.get("sample_order"):
            print(f"  sample order  {report['sample_order']} (inside each sheared tile)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from tilestream.train import TrainConfig, list_images, parse_arch, split_heldout, train

    files = list_images(args.data)
    if args.exclude_heldout:
        files, _ = split_heldout(files)
    cfg = TrainConfig(
        model=args.model, quality=args.quality, arch=parse_arch(args.arch), lmbda=args.lmbda,
        steps=args.steps, crop=args.crop, batch=args.batch, lr=args.lr,
        checkpoint_every=args.checkpoint_every, seed=args.seed, device=args.device, nodata=args.nodata,
    )
    log = None
    if args.log:
        def log(line: str, path: str = args.log) -> None:
            with open(path, "a") as fh:
                fh.write(line + "\n")

    result = train(
        files, args.out, cfg, init=args.init, resume=args.resume,
        progress=False if args.quiet else None, log=log,
    )
    print(
        f"{args.out}: {args.steps} steps, bpp {result['bpp']:.4f}, PSNR {result['psnr']:.2f} dB "
        f"(training crops, running average), {result['seconds']:.0f} s"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from tilestream.compare import compare, format_comparison

    result = compare(args.original, args.decoded, nodata=args.nodata)
    print(json.dumps(result, indent=2) if args.json else format_comparison(result), end="\n" if args.json else "")
    return 0


def _overlap(args: argparse.Namespace) -> int:
    from tilestream.overlap import context_overlap, format_context, format_overlap, overlap

    report: dict[str, Any] = overlap(args.model, quality=args.quality)
    context = context_overlap(args.model, quality=args.quality)
    if args.json:
        print(json.dumps({**report, **({"context": context} if context else {})}, indent=2))
    else:
        print(f"{args.model}" + (f" (quality {args.quality})" if args.quality else ""))
        print(format_overlap(report), end="")
        if context:
            print()
            print(format_context(context), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 on a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "encode": _encode, "decode": _decode, "verify": _verify, "info": _info, "compare": _compare, "overlap": _overlap, "train": _train,
    }
    try:
        status = handlers[args.command](args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return status
    except TilestreamError as exc:
        print(f"tilestream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tilestream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`tilestream info C | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit flush
        return 141


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
