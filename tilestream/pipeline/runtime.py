"""Where and how a job runs: the dask client, the torch device, progress, the wavefront band."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from tilestream.entropy import ChunkCodec
from tilestream.errors import TilestreamError
from tilestream.geometry import CodecLayout
from tilestream.schedule import Runner

__all__ = ["DEFAULT_BLOCK", "DEFAULT_CHUNK", "DEFAULT_GPU_BATCH", "check_block", "check_chunk", "local_processes", "resolve_batch", "open_client", "progress_bar", "resolve_device", "runner", "wavefront_band"]

#: default block side in pixels: 512 keeps a block's activations around 0.5 GB for zoo models
DEFAULT_BLOCK = 512
#: default entropy chunk side in pixels (at least): each chunk of a container is its own
#: rANS streams, whose flush and framing (about 16 bytes per chunk for a hyperprior model)
#: cost under 0.1 % of a 1024² chunk's bytes even at 0.1 bpp; the chunk is also the unit of
#: random access (a region decode entropy-decodes the chunks it touches)
DEFAULT_CHUNK = 1024


def open_client(scheduler: Any) -> Any:
    """A ``distributed.Client`` for an address or client, or ``None`` for local threads.

    Raises
    ------
    TilestreamError
        If a scheduler address cannot be reached.
    """
    if scheduler is None or scheduler == "threads":
        return None
    if isinstance(scheduler, str):
        from distributed import Client

        try:
            return Client(scheduler, timeout="10s")
        except (ValueError, TypeError) as exc:  # distributed's parser: no port, unknown protocol
            raise TilestreamError(
                f"dask scheduler {scheduler!r} is not an address ({exc}); pass tcp://HOST:PORT "
                f"(as printed by 'dask scheduler') or omit --scheduler to use local threads"
            ) from exc
        except OSError as exc:
            raise TilestreamError(
                f"cannot reach dask scheduler {scheduler!r} ({exc}); start one with "
                f"'dask scheduler' or omit --scheduler to use local threads"
            ) from exc
    return scheduler


@contextmanager
def local_processes(num_workers: int | None) -> Iterator[Any]:
    """A client of a ``distributed.LocalCluster`` of ``num_workers`` single-threaded worker
    processes (default: one per core), closed on exit.

    Processes, unlike threads, can run the per-sample loops of serial context models
    (which hold the GIL) side by side. Measured on a 2-core machine this did not pay
    (mbt2018 at 2K decoded in 131 s against 79 s on threads; benchmarks/serial_processes.py).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise TilestreamError(
            "scheduler 'processes' needs dask.distributed; pip install 'tilestream[distributed]' "
            "or omit --scheduler to use local threads"
        ) from exc
    import logging

    logging.getLogger("distributed").setLevel(logging.WARNING)
    workers = num_workers or os.cpu_count() or 2
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster) as client:
        yield client


@contextmanager
def runner(scheduler: Any = None, num_workers: int | None = None, batch: int = 1) -> Iterator[Runner]:
    """A :class:`~tilestream.schedule.Runner` for ``scheduler``; a client opened here from
    an address is closed on exit, and ``"processes"`` runs a local cluster of worker
    processes for the duration (:func:`local_processes`)."""
    if scheduler == "processes":
        with local_processes(num_workers) as client:
            yield Runner(client, num_workers, batch=batch)
        return
    client = open_client(scheduler)
    try:
        yield Runner(client, num_workers, batch=batch)
    finally:
        if client is not None and client is not scheduler:
            client.close()


def resolve_device(device: str | torch.device | None) -> str:
    """The torch device to run transforms on (default CPU), checked to exist here.

    Raises
    ------
    TilestreamError
        For a malformed device, CUDA without a GPU, or a GPU index this machine lacks.
    """
    if device is None:
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise TilestreamError(f"device {device!r} is not a torch device; use 'cpu' or 'cuda'") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TilestreamError(f"device {device!r} was requested but CUDA is not available; use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise TilestreamError(
                f"device {device!r} does not exist: this machine has {count} CUDA device(s); use "
                f"--device cuda:0" + (f" … cuda:{count - 1}" if count > 1 else "")
            )
    elif dev.type != "cpu":
        raise TilestreamError(f"device {device!r} is not supported; use 'cpu' or 'cuda'")
    return str(dev)


#: blocks per batched forward pass on a GPU by default: a 512² block of a zoo model holds
#: about 0.5 GB of activations, so four stay near 2 GB of device memory
DEFAULT_GPU_BATCH = 4


def resolve_batch(batch: Any, device: str) -> int:
    """Blocks of one row run as one forward pass of ``g_a`` / ``g_s``.

    Default: 1 on the CPU (measured: batching gains nothing there, see RESULTS.md) and
    :data:`DEFAULT_GPU_BATCH` on a GPU. Batched results equal unbatched ones.

    Raises
    ------
    TilestreamError
        If ``batch`` is not a positive integer.
    """
    if batch is None:
        return DEFAULT_GPU_BATCH if str(device).startswith("cuda") else 1
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise TilestreamError(f"batch {batch!r} is not a positive integer; use e.g. --batch 4 (blocks per forward pass)")
    return batch


def check_block(block: Any) -> int:
    """Validate a block side: a positive multiple of 64 pixels."""
    if isinstance(block, bool) or not isinstance(block, int) or block < 64 or block % 64:
        raise TilestreamError(f"block {block!r} px is not a positive multiple of 64; use e.g. 256 or 512")
    return block


def check_chunk(chunk: Any, block: int) -> int:
    """The entropy chunk side for transform blocks of ``block`` pixels.

    ``None`` gives the default: the smallest multiple of ``block`` of at least
    :data:`DEFAULT_CHUNK` pixels (1024 for blocks up to 1024, else the block). Otherwise a
    positive multiple of ``block``.

    Raises
    ------
    TilestreamError
        If ``chunk`` is not a positive multiple of ``block``.
    """
    if chunk is None:
        return block * -(-DEFAULT_CHUNK // block)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < block or chunk % block:
        raise TilestreamError(
            f"chunk {chunk!r} px is not a positive multiple of the block ({block} px); use e.g. "
            f"--chunk {block * -(-DEFAULT_CHUNK // block)}, or --chunk {block} for one chunk per block"
        )
    return chunk


def progress_bar(total: int, label: str, enabled: bool | None, unit: str = "task") -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(update, close)`` of a progress bar on stderr (default: when it is a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return (lambda n: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit=unit, leave=False)
    return bar.update, bar.close


def wavefront_band(codec: ChunkCodec, layout: CodecLayout, num_workers: int | None) -> int:
    """Block rows per wavefront step.

    Enough rows that a step holds at least four tasks per worker (a narrow image would
    otherwise leave workers idle at every step's barrier), and at least what the codec asks
    for (a serial context skews consecutive strips). Memory stays bounded by a fixed number
    of blocks per step, whatever the image size.
    """
    workers = num_workers or os.cpu_count() or 2
    rows, cols = layout.grid_shape
    band = max(-(-4 * workers // cols), codec.min_band(workers))
    return max(1, min(band, rows))
