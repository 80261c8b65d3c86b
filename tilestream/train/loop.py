"""``tilestream train``: rate–distortion training of a CompressAI model on random crops.

Uses CompressAI's own ``RateDistortionLoss`` (``λ·255²·MSE + bpp``), Adam for the
network and a separate Adam for the entropy bottleneck's quantiles (the auxiliary loss),
as in CompressAI's example training script. Training state (weights, optimizers, step) is
saved every ``checkpoint_every`` steps to ``OUT.state`` and can be resumed; the final
``OUT`` holds the state dict with ``update()`` applied, ready for ``--checkpoint``.

``arch`` may hold ``channels`` (``--arch channels=4,N=64,M=96``): a model for images of that
many bands (:func:`~tilestream.models.registry.build_model`), trained on crops of band groups
of that size, as the encoder codes them.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tilestream.errors import TilestreamError
from tilestream.models.compat import compressai
from tilestream.models.registry import (
    build_model,
    check_channels,
    load_error,
    model_channels,
)
from tilestream.train.data import CropSampler, file_digest, list_images

__all__ = ["TrainConfig", "train"]


@dataclass
class TrainConfig:
    """Settings of a training run (all recorded in the checkpoints)."""

    model: str = "mbt2018-mean"
    quality: int | None = None
    arch: dict[str, int] | None = None
    lmbda: float = 0.01
    steps: int = 1000
    crop: int = 256
    batch: int = 8
    lr: float = 1e-4
    aux_lr: float = 1e-3
    checkpoint_every: int = 500
    seed: int = 0
    device: str = "cpu"
    #: value of pixels without data in TIFF / zarr sources (default: each source's own)
    nodata: float | None = None


def _optimizers(model: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles") and p.requires_grad]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles") and p.requires_grad]
    return torch.optim.Adam(main, lr=cfg.lr), torch.optim.Adam(aux, lr=cfg.aux_lr)


def _build(cfg: TrainConfig) -> nn.Module:
    if cfg.arch:
        arch = dict(cfg.arch)
        channels = arch.pop("channels", 3)
        if arch:
            return build_model(cfg.model, cfg.quality, channels=channels, **arch)  # both: refused
        return build_model(cfg.model, cfg.quality, channels=channels)  # channels=C alone: zoo config
    return build_model(cfg.model, cfg.quality)


def _load(model: nn.Module, state: dict[str, Any], what: str, cfg: TrainConfig) -> None:
    """Load ``state`` into the model built from ``cfg``, or say in one line what differs."""
    from tilestream.models.spec import state_channels

    have, want = state_channels(state), model_channels(model)
    if have != want:
        raise TilestreamError(
            f"{what} codes {have} channel(s) but the model built from --arch codes {want}; pass "
            f"--arch channels={have} (with the N / M it was trained with)"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = load_error(exc)
        raise TilestreamError(
            f"{what} does not fit {cfg.model} {cfg.arch or cfg.quality or ''} ({first}); pass the "
            f"--model and --arch it was trained with"
        ) from exc


#: consecutive batches with a non-finite loss or gradient before training stops
MAX_NONFINITE = 20


class TrainingDiverged(TilestreamError):
    """The loss or the weights became non-finite; nothing non-finite was saved."""


def _finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _diverged(step: int, bad: int, out: str, saved: int | None) -> str:
    where = f"{out}.state holds step {saved}" if saved is not None else "nothing was saved"
    return (
        f"training diverged at step {step} ({bad} batch(es) in a row with a non-finite loss or "
        f"gradient, or non-finite weights); {where}; resume from it with a lower --lr or --lmbda"
    )


def _check(cfg: TrainConfig, out: str) -> TrainConfig:
    """Refuse settings out of range and an output that cannot be written, before any work;
    return ``cfg`` with its device checked."""
    from dataclasses import replace

    from tilestream.pipeline.runtime import resolve_device

    for name, value, example in (("--steps", cfg.steps, 10000), ("--batch", cfg.batch, 8), ("--checkpoint-every", cfg.checkpoint_every, 500)):
        if value < 1:
            raise TilestreamError(f"{name} must be >= 1, got {value!r}; pass e.g. {name} {example}")
    for name, value, example in (("--lmbda", cfg.lmbda, 0.0067), ("--lr", cfg.lr, 1e-4)):
        if not (value > 0 and math.isfinite(value)):
            raise TilestreamError(f"{name} must be > 0, got {value!r}; pass e.g. {name} {example}")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise TilestreamError(f"output folder {parent!r} of --out {out!r} does not exist; create it first")
    if os.path.isdir(out):
        raise TilestreamError(f"--out {out!r} is a folder; pass a file path such as {os.path.join(out, 'model.pt')!r}")
    return replace(cfg, device=resolve_device(cfg.device))


def _read_state(path: str, device: str) -> dict[str, Any]:
    """The training state saved by an earlier run (``OUT.state``), or one line saying why not."""
    fix = "pass the OUT.state file that an earlier run wrote next to OUT (or --init for weights)"
    if not os.path.isfile(path):
        raise TilestreamError(f"--resume {path!r} does not exist; {fix}")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # pickle / zip errors come in many types
        raise TilestreamError(f"--resume {path!r} cannot be read as training state ({type(exc).__name__}); {fix}") from exc
    keys = ("state_dict", "optimizer", "aux_optimizer", "step")
    missing = [k for k in keys if k not in state] if isinstance(state, dict) else list(keys)
    if missing:
        raise TilestreamError(f"--resume {path!r} is not a training state (it lacks {', '.join(missing)}); {fix}")
    return state


def _save(path: str, payload: dict[str, Any]) -> None:
    tmp = f"{path}.partial-{os.getpid()}"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train(
    data: list[str],
    out: str,
    cfg: TrainConfig,
    *,
    init: str | None = None,
    resume: str | None = None,
    progress: bool | None = None,
    log: Any = None,
) -> dict[str, float]:
    """Train (or fine-tune) a model; write ``out`` (weights, updated CDFs).

    Parameters
    ----------
    data : list of str
        Folders or files: photos (JPEG / PNG) and large TIFF / zarr sources.
    out : str
        Output checkpoint; training state goes to ``out + ".state"``.
    cfg : TrainConfig
        Hyper-parameters.
    init : str, optional
        A checkpoint to start from (fine-tuning, e.g. to another λ).
    resume : str, optional
        A ``.state`` file to continue from (same data and settings).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    dict
        Final running averages: ``loss``, ``bpp``, ``psnr``, and ``seconds``.
    """
    import sys

    from tilestream.models.spec import read_checkpoint

    cfg = _check(cfg, out)
    files = list_images(data)
    torch.manual_seed(cfg.seed)
    model = _build(cfg).to(cfg.device).train()
    optimizer, aux_optimizer = _optimizers(model, cfg)
    start = 0
    if resume is not None:
        state = _read_state(resume, cfg.device)
        _load(model, state["state_dict"], f"--resume {resume!r}", cfg)
        try:
            optimizer.load_state_dict(state["optimizer"])
            aux_optimizer.load_state_dict(state["aux_optimizer"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TilestreamError(
                f"--resume {resume!r} holds optimizer state of another model ({exc}); pass the "
                f"OUT.state of a run with the same --model and --arch"
            ) from exc
        start = int(state["step"])
    elif init is not None:
        _load(model, read_checkpoint(init), f"--init {init!r}", cfg)
    channels = model_channels(model)
    sampler = CropSampler(
        files, cfg.crop, seed=cfg.seed + start, preload=cfg.steps - start > 50, channels=channels,
        nodata=cfg.nodata,
    )
    criterion = compressai().losses.RateDistortionLoss(lmbda=cfg.lmbda)
    meta = {
        "model": cfg.model, "quality": cfg.quality, "arch": cfg.arch or {}, "lmbda": cfg.lmbda,
        "crop": cfg.crop, "batch": cfg.batch, "lr": cfg.lr, "data": file_digest(files),
        "channels": channels, "nodata": cfg.nodata,
    }
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc=f"train λ={cfg.lmbda}", unit="step")
    avg = {"loss": 0.0, "bpp": 0.0, "mse": 0.0}
    bad, saved = 0, (start if resume is not None else None)
    t0 = time.perf_counter()
    step = start
    for step in range(start + 1, cfg.steps + 1):
        x = torch.from_numpy(sampler.batch(cfg.batch)).to(cfg.device)
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        output = model(x)
        losses = criterion(output, x)
        if not torch.isfinite(losses["loss"]):
            bad += 1
            if bad >= MAX_NONFINITE:
                raise TrainingDiverged(_diverged(step, bad, out, saved))
            continue  # a non-finite loss must not reach the weights
        losses["loss"].backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not torch.isfinite(norm):
            bad += 1
            if bad >= MAX_NONFINITE:
                raise TrainingDiverged(_diverged(step, bad, out, saved))
            continue
        bad = 0
        optimizer.step()
        aux = model.aux_loss()
        aux.backward()
        aux_optimizer.step()
        for key, name in (("loss", "loss"), ("bpp", "bpp_loss"), ("mse", "mse_loss")):
            value = float(losses[name].detach())
            avg[key] = 0.98 * avg[key] + 0.02 * value if step > start + 1 else value
        psnr = 10 * math.log10(1 / max(avg["mse"], 1e-10))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{avg['loss']:.3f}", bpp=f"{avg['bpp']:.3f}", psnr=f"{psnr:.2f}")
        if log is not None and (step % 50 == 0 or step == cfg.steps):
            log(f"step {step} loss {avg['loss']:.4f} bpp {avg['bpp']:.4f} psnr {psnr:.2f}")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            if not _finite(model):
                raise TrainingDiverged(_diverged(step, bad, out, saved))
            saved = step
            _save(f"{out}.state", {
                "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                "aux_optimizer": aux_optimizer.state_dict(), "step": step, "meta": meta,
            })
    if bar is not None:
        bar.close()
    if not _finite(model):  # pragma: no cover - caught at the last checkpoint above
        raise TrainingDiverged(_diverged(step, bad, out, saved))
    model.eval()
    model.update(force=True)
    _save(out, {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": {**meta, "steps": step}})
    psnr = 10 * math.log10(1 / max(avg["mse"], 1e-10))
    return {"loss": avg["loss"], "bpp": avg["bpp"], "psnr": psnr, "seconds": time.perf_counter() - t0}


def parse_arch(text: str | None) -> dict[str, int] | None:
    """Parse ``N=64,M=96`` into ``{"N": 64, "M": 96}``; ``channels=C`` sets the image
    channels of the model (checked to be >= 1).

    >>> parse_arch("channels=4,N=64,M=96")
    {'channels': 4, 'N': 64, 'M': 96}
    """
    if not text:
        return None
    try:
        arch = {k.strip(): int(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError as exc:
        raise TilestreamError(
            f"--arch {text!r} is not NAME=INT[,NAME=INT] (e.g. N=64,M=96 or channels=4,N=64,M=96)"
        ) from exc
    if "channels" in arch:
        check_channels(arch["channels"])
    return arch
