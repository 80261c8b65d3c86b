"""Bad input, catalogued (issue 12, deliverable 7).

One table of bad inputs across every command and the Python API. Each case must give one
line on stderr that names the offending value and says what to do, exit with status 2,
print no traceback, and leave nothing that looks like a finished output: the files of the
case's own folder and of the shared inputs are byte for byte what they were before (no new
output, no ``.partial-*`` left over, an existing output untouched).

A case is ``argv`` (run in-process through :func:`tilestream.cli.main`, or for the few in
``IN_A_PROCESS`` as ``python -m tilestream`` in a real process) or a Python API call
(``pytest.raises(TilestreamError)``), the ``value`` the message must contain, and a regex
``fix`` that it must match (what to do). ``{fx}`` in an argument is the folder of shared
inputs, ``{out}`` the case's own empty folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import torch

import tilestream
from tests.conftest import cached_model, photo
from tilestream.cli import main
from tilestream.errors import TilestreamError

UNREACHABLE = "tcp://127.0.0.1:9"  # the discard port: nothing listens there


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...] = ()
    value: str = ""  # must appear in the message (formatted like argv)
    fix: str = ""  # regex the message must match: what to do
    api: Callable[[dict[str, Path]], Any] | None = None


def C(id: str, argv: str, value: str, fix: str) -> Case:  # a row of the table
    return Case(id, tuple(argv.split()), value, fix)


def A(id: str, call: Callable[[dict[str, Path]], Any], value: str, fix: str) -> Case:  # a row of the table: a Python API call
    return Case(id, (), value, fix, api=call)


W = "--checkpoint {fx}/weights.pt --model mbt2018-mean"  # the small model's weights
ENC = "encode {fx}/rgb.tif {out}/c.tsz --block 64 --quiet " + W
DEC = "decode {fx}/c.tsz {out}/d.tif --quiet --checkpoint {fx}/weights.pt"
TRAIN = "train {fx}/photos --out {out}/m.pt --quiet --steps 1 --batch 1 --crop 64 --arch N=8,M=12"


def _encode(fx, **kw):
    args = {"model": "mbt2018-mean", "checkpoint": fx["fx"] / "weights.pt", "block": 64, "progress": False}
    return tilestream.encode(kw.pop("source", fx["fx"] / "rgb.tif"), fx["out"] / "c.tsz", **{**args, **kw})


def _image(fx):
    return tilestream.open(fx["fx"] / "c.tsz", checkpoint=fx["fx"] / "weights.pt")


def _decode(fx, **kw):
    args = {"checkpoint": fx["fx"] / "weights.pt", "progress": False}
    return tilestream.decode(fx["fx"] / "c.tsz", fx["out"] / "d.tif", **{**args, **kw})


CASES = [
    # -- encode: the input ------------------------------------------------------------
    C("encode-input-missing", ENC.replace("rgb.tif", "nothing.tif"), "{fx}/nothing.tif", r"does not exist; check the path"),
    C("encode-input-empty-file", ENC.replace("rgb.tif", "empty.tif"), "{fx}/empty.tif", r"not a readable TIFF.*; pass a TIFF"),
    C("encode-input-text-file", ENC.replace("rgb.tif", "notes.txt"), "{fx}/notes.txt", r"; convert it to TIFF"),
    C("encode-input-png", ENC.replace("rgb.tif", "photo.png"), "{fx}/photo.png", r"; convert it to TIFF"),
    C("encode-input-truncated-tiff", ENC.replace("rgb.tif", "truncated.tif"), "{fx}/truncated.tif", r"damaged or truncated: check it"),
    C("encode-input-empty-folder", ENC.replace("rgb.tif", "emptydir"), "{fx}/emptydir", r"not a zarr array.*; pass the path of a zarr array"),
    C("encode-input-complex-samples", ENC.replace("rgb.tif", "complex.tif"), "complex64", r"; convert it to one of them"),
    C("encode-input-5d-tiff", ENC.replace("rgb.tif", "volume.tif"), "{fx}/volume.tif", r"; select one page or plane first"),
    # -- encode: options ----------------------------------------------------------------
    C("encode-block-not-multiple-of-64", ENC.replace("--block 64", "--block 100"), "100", r"multiple of 64; use e\.g\. 256"),
    C("encode-block-negative", ENC.replace("--block 64", "--block -64"), "-64", r"multiple of 64; use e\.g\. 256"),
    C("encode-block-zero", ENC.replace("--block 64", "--block 0"), "block 0", r"multiple of 64; use e\.g\. 256"),
    C("encode-batch-zero", ENC + " --batch 0", "batch 0", r"not a positive integer; use e\.g\. --batch 4"),
    C("decode-batch-negative", DEC + " --batch -2", "batch -2", r"not a positive integer; use e\.g\. --batch 4"),
    C("encode-chunk-not-multiple-of-block", ENC + " --chunk 96", "chunk 96",
      r"not a positive multiple of the block \(64 px\); use e\.g\. --chunk 1024, or --chunk 64"),
    C("encode-chunk-smaller-than-block", ENC.replace("--block 64", "--block 256") + " --chunk 128", "chunk 128",
      r"multiple of the block \(256 px\); use e\.g\. --chunk 1024"),
    C("encode-chunk-zero", ENC + " --chunk 0", "chunk 0", r"use e\.g\. --chunk 1024"),
    C("decode-block-not-multiple-of-64", DEC + " --block 100", "block 100", r"multiple of 64; use e\.g\. 256"),
    A("api-encode-chunk-float", lambda fx: _encode(fx, chunk=128.0), "chunk 128.0", r"use e\.g\. --chunk 1024"),
    A("api-decode-block-string", lambda fx: _decode(fx, block="512"), "'512'", r"multiple of 64; use e\.g\. 256"),
    C("encode-block-not-a-number", ENC.replace("--block 64", "--block big"), "'big'", r"--help"),
    C("encode-quality-out-of-range", "encode {fx}/rgb.tif {out}/c.tsz --block 64 --quiet --quality 9", "quality 9",
      r"pass --quality with one of them"),
    C("encode-quality-zero", "encode {fx}/rgb.tif {out}/c.tsz --block 64 --quiet --quality 0", "quality 0",
      r"pass --quality with one of them"),
    C("encode-quality-negative", "encode {fx}/rgb.tif {out}/c.tsz --block 64 --quiet --quality -1", "quality -1",
      r"pass --quality with one of them"),
    C("encode-unknown-model", ENC.replace("mbt2018-mean", "mbt2099"), "'mbt2099'", r"; choose one of: .*mbt2018-mean"),
    C("encode-model-without-weights", "encode {fx}/rgb.tif {out}/c.tsz --quiet --model mbt2018-mean", "mbt2018-mean",
      r"pass --checkpoint PATH or --pretrained"),
    C("encode-checkpoint-without-model", "encode {fx}/rgb.tif {out}/c.tsz --quiet --checkpoint {fx}/weights.pt",
      "--checkpoint '{fx}/weights.pt'", r"needs --model NAME.*; pass e\.g\. --model mbt2018-mean"),
    C("encode-pretrained-without-quality", "encode {fx}/rgb.tif {out}/c.tsz --quiet --model mbt2018-mean --pretrained",
      "'mbt2018-mean'", r"needs --quality"),
    C("encode-checkpoint-missing", ENC.replace("weights.pt", "nothing.pt"), "{fx}/nothing.pt", r"; pass the path of a state dict"),
    C("encode-checkpoint-empty", ENC.replace("weights.pt", "empty.pt"), "{fx}/empty.pt", r"; pass a file saved with torch\.save"),
    C("encode-checkpoint-corrupt", ENC.replace("weights.pt", "corrupt.pt"), "{fx}/corrupt.pt", r"; pass a file saved with torch\.save"),
    C("encode-checkpoint-not-a-state-dict", ENC.replace("weights.pt", "list.pt"), "{fx}/list.pt", r"; save it with torch\.save\(model\.state_dict"),
    C("encode-checkpoint-other-architecture", ENC.replace("weights.pt", "factorized.pt"), "{fx}/factorized.pt",
      r"does not fit the architecture mbt2018-mean.*; pass the --model"),
    C("encode-device-unknown", ENC + " --device tpu", "'tpu'", r"; use 'cpu' or 'cuda'"),
    C("encode-device-cuda-absent", ENC + " --device cuda", "'cuda'", r"; use --device cpu"),
    C("encode-scheduler-unreachable", ENC + " --scheduler " + UNREACHABLE, UNREACHABLE, r"start one with 'dask scheduler'"),
    C("encode-scheduler-not-an-address", ENC + " --scheduler nowhere", "'nowhere'", r"is not an address.*; pass tcp://HOST:PORT"),
    C("encode-nodata-not-a-number", ENC + " --nodata none", "'none'", r"--help"),
    C("encode-nodata-out-of-dtype-range", ENC + " --nodata 300", "nodata 300", r"; pass --nodata with a value the image's type can hold"),
    C("encode-transfer-unknown", ENC + " --transfer log", "'log'", r"choose from"),
    C("encode-unknown-option", ENC + " --blocksize 64", "--blocksize", r"--help"),
    C("encode-resume-with-nothing-to-resume", ENC + " --resume", "{out}/c.tsz.partial", r"; run the encode without --resume"),
    # -- encode: the output -------------------------------------------------------------
    C("encode-output-exists", ENC.replace("{out}/c.tsz", "{fx}/c.tsz"), "{fx}/c.tsz", r"pass --overwrite to replace it"),
    C("encode-output-folder-missing", ENC.replace("{out}/c.tsz", "{out}/no/such/c.tsz"), "{out}/no/such", r"create it first"),
    C("encode-output-under-a-file", ENC.replace("{out}/c.tsz", "{fx}/notes.txt/c.tsz"), "{fx}/notes.txt", r"is a file, not a folder; choose an output path"),
    # -- decode ------------------------------------------------------------------------------
    C("decode-container-missing", DEC.replace("c.tsz", "nothing.tsz"), "{fx}/nothing.tsz", r"does not exist; check the path"),
    C("decode-container-is-a-tiff", DEC.replace("c.tsz", "rgb.tif"), "{fx}/rgb.tif", r"not a tilestream container.*pass a file written by 'tilestream encode'"),
    C("decode-container-empty-folder", DEC.replace("c.tsz", "emptydir"), "{fx}/emptydir", r"not a tilestream container.*pass"),
    C("decode-container-bad-zarr-json", DEC.replace("c.tsz", "badjson.tsz"), "{fx}/badjson.tsz", r"not a tilestream container.*; pass a file written by 'tilestream encode'"),
    C("decode-container-incomplete", DEC.replace("c.tsz", "incomplete.tsz"), "{fx}/incomplete.tsz", r"encode the image again"),
    C("decode-container-missing-chunk", DEC.replace("c.tsz", "nochunk.tsz"), "y[0, 1]", r"(missing|truncated).*; .*re-encode"),
    C("decode-region-out-of-bounds", DEC + " --region 0:1000,0:64", "0:1000,0:64", r"use 0 <= Y0 < Y1 <= 96"),
    C("decode-region-negative", DEC + " --region=-64:0,0:64", "-64:0,0:64", r"use 0 <= Y0 < Y1 <= 96"),
    C("decode-region-empty", DEC + " --region 32:32,0:64", "32:32,0:64", r"use 0 <= Y0 < Y1 <= 96"),
    C("decode-region-malformed", DEC + " --region 0-64,0-64", "'0-64,0-64'", r"e\.g\. 0:512,1024:1536"),
    C("decode-checkpoint-other-weights", DEC.replace("weights.pt", "other.pt"), "{fx}/other.pt", r"pass the same weights to decode"),
    C("decode-checkpoint-other-architecture", DEC.replace("weights.pt", "factorized.pt"), "{fx}/factorized.pt",
      r"does not fit the architecture mbt2018-mean \((Missing|Unexpected|size).*; pass the --model"),
    C("decode-checkpoint-corrupt", DEC.replace("weights.pt", "corrupt.pt"), "{fx}/corrupt.pt", r"; pass a file saved with torch\.save"),
    C("decode-without-its-checkpoint", "decode {fx}/c.tsz {out}/d.tif --quiet", "mbt2018-mean", r"pass --checkpoint PATH"),
    C("decode-output-exists", DEC.replace("{out}/d.tif", "{fx}/rgb.tif"), "{fx}/rgb.tif", r"pass --overwrite to replace it"),
    C("decode-output-folder-missing", DEC.replace("{out}/d.tif", "{out}/no/d.tif"), "{out}/no", r"create it first"),
    C("decode-scheduler-unreachable", DEC + " --scheduler " + UNREACHABLE, UNREACHABLE, r"start one with 'dask scheduler'"),
    C("decode-on-damage-unknown", DEC + " --on-damage skip", "'skip'", r"choose from 'fail', 'fill'"),
    C("decode-device-unknown", DEC + " --device gpu0", "'gpu0'", r"; use 'cpu' or 'cuda'"),
    C("decode-cog-to-a-zarr-name", DEC.replace("{out}/d.tif", "{out}/d.zarr") + " --format cog", "{out}/d.zarr", r"name the output \*\.tif"),
    C("decode-resume-a-cog", DEC + " --format cog --resume", "cog", r"cannot be resumed; run again without --resume"),
    # -- info --------------------------------------------------------------------------------
    C("info-container-missing", "info {fx}/nothing.tsz", "{fx}/nothing.tsz", r"does not exist; check the path"),
    C("info-text-file", "info {fx}/notes.txt", "{fx}/notes.txt", r"pass a file written by 'tilestream encode'"),
    C("info-empty-file", "info {fx}/empty.tif", "{fx}/empty.tif", r"pass a file written by 'tilestream encode'"),
    C("info-format-version-unknown", "info {fx}/future.tsz", "{fx}/future.tsz", r"format 99\.0.*; upgrade tilestream"),
    # -- verify -------------------------------------------------------------------------------
    C("verify-container-missing", "verify {fx}/nothing.tsz", "{fx}/nothing.tsz", r"does not exist; check the path"),
    C("verify-text-file", "verify {fx}/notes.txt", "{fx}/notes.txt", r"pass a file written by 'tilestream encode'"),
    C("verify-missing-chunk", "verify {fx}/nochunk.tsz", "y[0, 1]", r"; re-encode it, or decode the rest with --on-damage fill"),
    # -- object storage ---------------------------------------------------------------------
    C("encode-storage-option-malformed", ENC + " --storage-option novalue", "'novalue'", r"is not KEY=VALUE; write e\.g\. --storage-option"),
    C("encode-storage-protocol-unknown", ENC.replace("{out}/c.tsz", "nosuch://bucket/c.tsz"), "nosuch://bucket/c.tsz",
      r"install the fsspec implementation of 'nosuch'.* or pass a local path"),
    C("encode-source-storage-missing", ENC.replace("{fx}/rgb.tif", "memory://nothing/in.tif"), "memory://nothing/in.tif",
      r"does not exist; check the URL"),
    C("encode-source-storage-unreachable",  # credentials given: botocore really tries the endpoint
      ENC.replace("{fx}/rgb.tif", "s3://bucket/in.tif") + " --storage-option endpoint_url=http://127.0.0.1:9"
      " --storage-option key=k --storage-option secret=s",
      "s3://bucket/in.tif", r"cannot reach .*127\.0\.0\.1:9.*; check that the storage is reachable"),
    # -- compare ------------------------------------------------------------------------------
    C("compare-original-missing", "compare {fx}/nothing.tif {fx}/rgb.tif", "{fx}/nothing.tif", r"does not exist; check the path"),
    C("compare-decoded-not-an-image", "compare {fx}/rgb.tif {fx}/notes.txt", "{fx}/notes.txt", r"; convert it to TIFF"),
    C("compare-size-mismatch", "compare {fx}/rgb.tif {fx}/small.tif", "{fx}/small.tif' is 64x64",
      r"differ in size.*; compare an image with its own decode"),
    C("compare-band-mismatch", "compare {fx}/rgb.tif {fx}/gray.tif", "{fx}/gray.tif' is 96x128 with 1 band",
      r"differ in bands.*; compare an image with its own decode"),
    C("compare-nodata-not-a-number", "compare {fx}/rgb.tif {fx}/rgb.tif --nodata x", "'x'", r"--help"),
    # -- train -------------------------------------------------------------------------------
    C("train-data-missing", TRAIN.replace("{fx}/photos", "{fx}/nothing"), "{fx}/nothing", r"; pass folders or image files"),
    C("train-data-without-images", TRAIN.replace("{fx}/photos", "{fx}/emptydir"), "{fx}/emptydir", r"; add JPEG, PNG, TIFF or zarr files"),
    C("train-data-not-an-image", TRAIN.replace("{fx}/photos", "{fx}/notes.txt"), "{fx}/notes.txt", r"is not a JPEG, PNG, TIFF or zarr image.*; pass folders or image files"),
    C("train-data-corrupt-photo", TRAIN.replace("{fx}/photos", "{fx}/badphotos"), "{fx}/badphotos/bad.png",
      r"cannot be read.*; remove it"),
    C("train-steps-zero", TRAIN.replace("--steps 1", "--steps 0"), "got 0", r"--steps must be >= 1.*; pass e\.g\. --steps"),
    C("train-batch-zero", TRAIN.replace("--batch 1", "--batch 0"), "got 0", r"--batch must be >= 1.*; pass e\.g\. --batch"),
    C("train-lmbda-negative", TRAIN + " --lmbda -0.01", "got -0.01", r"--lmbda must be > 0.*; pass e\.g\. --lmbda"),
    C("train-lr-negative", TRAIN + " --lr -1", "got -1.0", r"--lr must be > 0.*; pass e\.g\. --lr"),
    C("train-crop-not-multiple-of-64", TRAIN.replace("--crop 64", "--crop 100"), "crop 100", r"multiple of 64 \(e\.g\. 128"),
    C("train-checkpoint-every-zero", TRAIN + " --checkpoint-every 0", "got 0", r"--checkpoint-every must be >= 1.*; pass e\.g\. --checkpoint-every"),
    C("train-arch-malformed", TRAIN.replace("N=8,M=12", "N8"), "'N8'", r"NAME=INT"),
    C("train-arch-channels-zero", TRAIN.replace("N=8,M=12", "channels=0,N=8,M=12"), "channels 0", r"channels=C with C >= 1"),
    C("train-arch-unknown-argument", TRAIN.replace("N=8,M=12", "N=8,M=12,Q=3"), "unexpected keyword argument 'Q'", r"; pass the arguments of its constructor"),
    C("train-arch-negative-size", TRAIN.replace("N=8,M=12", "N=-8,M=12"), "'N': -8", r"; pass the arguments of its constructor with positive sizes"),
    C("train-quality-and-arch", TRAIN + " --quality 2", "quality 2", r"pass either --quality or --arch, not both"),
    C("train-unknown-model", TRAIN + " --model mbt2099", "'mbt2099'", r"choose one of"),
    C("train-quality-out-of-range", TRAIN.replace("--arch N=8,M=12", "--quality 99"), "quality 99", r"; choose one of 1, 2"),
    C("train-init-missing", TRAIN + " --init {fx}/nothing.pt", "{fx}/nothing.pt", r"; pass the path of a state dict"),
    C("train-init-other-architecture", TRAIN + " --init {fx}/factorized.pt", "{fx}/factorized.pt",
      r"\((Missing|Unexpected|size).*; pass the --model and --arch"),
    C("train-resume-missing", TRAIN + " --resume {fx}/nothing.state", "{fx}/nothing.state", r"does not exist; pass the OUT\.state file"),
    C("train-resume-corrupt", TRAIN + " --resume {fx}/corrupt.pt", "{fx}/corrupt.pt", r"cannot be read as training state.*; pass the OUT\.state file"),
    C("train-resume-not-a-state", TRAIN + " --resume {fx}/weights.pt", "{fx}/weights.pt", r"is not a training state.*; pass the OUT\.state file"),
    C("train-out-folder-missing", TRAIN.replace("{out}/m.pt", "{out}/no/m.pt"), "{out}/no", r"create it first"),
    C("train-out-is-a-folder", TRAIN.replace("--out {out}/m.pt", "--out {out}"), "{out}", r"is a folder; pass a file path"),
    C("train-device-unknown", TRAIN + " --device tpu", "'tpu'", r"use 'cpu' or 'cuda'"),
    C("train-out-missing", TRAIN.replace("--out {out}/m.pt", ""), "--out", r"--help"),
    # -- other commands -----------------------------------------------------------------
    C("no-command", "", "COMMAND", r"--help"),
    C("unknown-command", "squeeze {fx}/rgb.tif", "'squeeze'", r"--help"),
    # -- Python API --------------------------------------------------------------------------
    A("api-encode-source-of-a-wrong-type", lambda fx: _encode(fx, source=42), "from int", r"; pass a TIFF path"),
    A("api-encode-array-4d", lambda fx: _encode(fx, source=np.zeros((2, 64, 64, 3), np.uint8)), "(2, 64, 64, 3)", r"; expected a 2-D image"),
    A("api-encode-array-bool", lambda fx: _encode(fx, source=np.zeros((64, 64), bool)), "dtype bool", r"; convert it to one of them"),
    A("api-encode-block-float", lambda fx: _encode(fx, block=64.0), "block 64.0", r"use e\.g\. 256"),
    A("api-encode-block-bool", lambda fx: _encode(fx, block=True), "block True", r"use e\.g\. 256"),
    A("api-encode-quality-string", lambda fx: _encode(fx, model=None, checkpoint=None, quality="high"), "quality 'high'", r"is not an integer; pass --quality N"),
    A("api-encode-transfer-unknown", lambda fx: _encode(fx, transfer="log"), "transfer 'log'", r"; pass one of them"),
    A("api-encode-model-not-compressai", lambda fx: _encode(fx, model=torch.nn.Conv2d(3, 3, 3), checkpoint=None), "Conv2d",
      r"pass a model built from compressai\.registry\.MODELS"),
    A("api-encode-nodata-nan-for-integers", lambda fx: _encode(fx, nodata=float("nan")), "nodata nan", r"; pass --nodata with a value"),
    A("api-decode-region-of-two-values", lambda fx: _decode(fx, region=(0, 64)), "region (0, 64)", r"is not four integers.*; pass e\.g\."),
    A("api-decode-other-model-name", lambda fx: _decode(fx, model="bmshj2018-factorized"), "bmshj2018-factorized", r"omit --model"),
    A("api-decode-format-unknown", lambda fx: _decode(fx, format="png"), "'png'", r"; choose one of those"),
    A("api-decode-compress-unknown", lambda fx: _decode(fx, format="cog", compress="webp"), "'webp'", r"; choose one of those"),
    A("api-decode-resampling-unknown", lambda fx: _decode(fx, format="cog", resampling="cubic"), "'cubic'", r"; choose one of those"),
    A("api-decode-overviews-to-plain-tiff", lambda fx: _decode(fx, format="tiff", overviews=True), "--overviews", r"use --format cog"),
    A("api-open-missing-container", lambda fx: tilestream.open(fx["fx"] / "nothing.tsz"), "{fx}/nothing.tsz", r"check the path"),
    A("api-image-slice-with-a-step", lambda fx: _image(fx)[::2, :], "step 2", r"; use step 1"),
    A("api-image-empty-slice", lambda fx: _image(fx)[5:5, :], "5:5", r"; index with start < stop"),
    A("api-image-index-of-a-wrong-type", lambda fx: _image(fx)["top"], "'top'", r"; use ints or slices"),
]


#: cases run as a user runs them, in a real process, stderr as the terminal shows it, instead
#: of in-process: a bad file read inside a dask task, and the three that wait for a network
#: timeout (these run side by side, while the rest of the table runs)
IN_A_PROCESS = [
    "encode-input-truncated-tiff", "encode-scheduler-unreachable", "decode-scheduler-unreachable",
    "encode-source-storage-unreachable",
]


IN_PROCESS = [c for c in CASES if c.id not in IN_A_PROCESS]


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> Path:
    """The shared inputs of the table (small: a 96 × 128 crop, a small model)."""
    d = tmp_path_factory.mktemp("inputs")
    rgb = np.ascontiguousarray(photo("cups_190x250.png")[:96, :128])
    tifffile.imwrite(d / "rgb.tif", rgb, photometric="rgb")
    tifffile.imwrite(d / "small.tif", rgb[:64, :64], photometric="rgb")
    tifffile.imwrite(d / "gray.tif", rgb[..., 0], photometric="minisblack")
    tifffile.imwrite(d / "complex.tif", np.zeros((64, 64), np.complex64))
    tifffile.imwrite(d / "volume.tif", np.zeros((2, 3, 64, 64, 2), np.uint8))
    whole = (d / "rgb.tif").read_bytes()
    (d / "truncated.tif").write_bytes(whole[: len(whole) // 2])  # header intact, pixels cut
    (d / "empty.tif").write_bytes(b"")
    (d / "empty.pt").write_bytes(b"")
    (d / "notes.txt").write_text("not an image\n")
    (d / "corrupt.pt").write_bytes(bytes(range(256)) * 8)
    shutil.copy(Path(__file__).parent / "data" / "cups_190x250.png", d / "photo.png")
    (d / "emptydir").mkdir()
    (d / "photos").mkdir()
    (d / "badphotos").mkdir()
    (d / "badphotos" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a PNG signature, then nothing
    shutil.copy(Path(__file__).parent / "data" / "ladybird_213x317.png", d / "photos" / "ladybird.png")
    state = cached_model("mbt2018-mean").state_dict()
    torch.save(state, d / "weights.pt")
    other = {k: v.clone() for k, v in state.items()}
    other["g_s.0.weight"] += 0.01  # same architecture, other weights
    torch.save(other, d / "other.pt")
    torch.save(cached_model("bmshj2018-factorized").state_dict(), d / "factorized.pt")
    torch.save([1, 2, 3], d / "list.pt")
    tilestream.encode(d / "rgb.tif", d / "c.tsz", model="mbt2018-mean", checkpoint=d / "weights.pt", block=64, chunk=64,
                      progress=False)
    _damaged(d, "badjson.tsz", lambda c: (c / "zarr.json").write_text("{ not json"))
    _damaged(d, "incomplete.tsz", lambda c: _edit_attrs(c, complete=False))
    _damaged(d, "future.tsz", lambda c: _edit_attrs(c, format_version="99.0"))
    _damaged(d, "nochunk.tsz", lambda c: (c / "y" / "c" / "0" / "1").unlink())
    return d


def _damaged(d: Path, name: str, damage: Callable[[Path], Any]) -> None:
    shutil.copytree(d / "c.tsz", d / name)
    damage(d / name)


def _edit_attrs(container: Path, **attrs: Any) -> None:
    import json

    meta = json.loads((container / "zarr.json").read_text())
    meta["attributes"].update(attrs)
    (container / "zarr.json").write_text(json.dumps(meta))


def _snapshot(*folders: Path) -> dict[str, str]:
    """Every path under ``folders`` with a digest of its bytes (folders: '<dir>')."""
    found = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs:
                found[os.path.join(root, name)] = "<dir>"
            for name in files:
                path = os.path.join(root, name)
                found[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest() if not os.path.islink(path) else "<link>"
    return found


def _fill(text: str, paths: dict[str, Path]) -> str:
    return text.format(**{k: str(v) for k, v in paths.items()})


def _main(argv: list[str]) -> int | str | None:
    """``main(argv)``'s exit status, also when argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.usefixtures("processes")  # start the few real processes now, to run alongside
@pytest.mark.parametrize("case", IN_PROCESS, ids=[c.id for c in IN_PROCESS])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case: Case, fx: Path, tmp_path: Path, capsys):
    paths = {"fx": fx, "out": tmp_path}
    before = _snapshot(fx, tmp_path)
    value, fix = _fill(case.value, paths), _fill(case.fix, paths)
    if case.api is not None:
        with pytest.raises(TilestreamError) as info:
            case.api(paths)
        message = str(info.value)
        assert "\n" not in message.strip(), message
    else:
        status = _main([_fill(a, paths) for a in case.argv])
        captured = capsys.readouterr()
        message = _one_line(captured.err)
        assert status == 2, captured
        assert re.match(r"tilestream( \w+)?: error: ", message), message
    assert value in message, f"the message does not name {value!r}: {message}"
    assert re.search(fix, message), f"the message does not say {fix!r}: {message}"
    assert _snapshot(fx, tmp_path) == before  # no output, no leftovers, nothing changed


@pytest.fixture(scope="module")
def processes(fx: Path, tmp_path_factory) -> dict[str, tuple[subprocess.Popen, dict[str, Path], dict[str, str]]]:
    """The IN_A_PROCESS cases, started together when the table starts (a process spends
    most of its time importing torch: they run while the table does)."""
    started = {}
    for case in CASES:
        if case.id in IN_A_PROCESS:
            paths = {"fx": fx, "out": tmp_path_factory.mktemp("process")}
            before = _snapshot(fx, paths["out"])
            command = [sys.executable, "-m", "tilestream", *(_fill(a, paths) for a in case.argv)]
            started[case.id] = (
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                paths, before,
            )
    yield started
    for proc, _, _ in started.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize("case", [c for c in CASES if c.id in IN_A_PROCESS], ids=[c.id for c in CASES if c.id in IN_A_PROCESS])
def test_no_traceback_reaches_the_terminal(case: Case, fx: Path, processes):
    proc, paths, before = processes[case.id]
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    message = _one_line(err)
    assert re.match(r"tilestream( \w+)?: error: ", message), message
    assert _fill(case.value, paths) in message and re.search(case.fix, message), message
    assert _snapshot(fx, paths["out"]) == before


def test_the_table_is_a_catalogue():
    """At least 40 distinct cases, over every command and the Python API."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) >= 40
    assert set(IN_A_PROCESS) <= set(ids) and len(IN_A_PROCESS) <= 4
    commands = {c.argv[0] for c in CASES if c.argv}
    assert {"encode", "decode", "info", "verify", "compare", "train"} <= commands
    assert sum(c.api is not None for c in CASES) >= 10
    assert len({(c.argv, c.api) for c in CASES}) == len(CASES)  # no two cases run the same thing
