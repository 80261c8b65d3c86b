"""The pipelines: the only package that wires tasks into dask computations.

``encode`` reads a source lazily block by block, runs ``g_a`` → ``h_a`` → entropy coding
as a row wavefront (see :mod:`tilestream.schedule`) and writes every chunk's bytes to the
container as soon as it is coded. ``decode`` streams the other way into a sink; region
decode runs only what a window needs. Neither ever holds the whole image or the whole
latent.

Modules: :mod:`~tilestream.pipeline.stages` (the stage graphs, from the codec's
description), :mod:`~tilestream.pipeline.encode`, :mod:`~tilestream.pipeline.decode`,
:mod:`~tilestream.pipeline.region`, :mod:`~tilestream.pipeline.runtime` (client, device,
progress, wavefront band).
"""

from tilestream.pipeline.decode import coded_context, decode, decode_blocks
from tilestream.pipeline.encode import EncodeResult, encode
from tilestream.pipeline.region import decode_latent, decode_region, region_cache, region_tiles, region_window
from tilestream.pipeline.runtime import DEFAULT_BLOCK, open_client, resolve_device

__all__ = [
    "DEFAULT_BLOCK",
    "EncodeResult",
    "coded_context",
    "decode",
    "decode_blocks",
    "decode_latent",
    "decode_region",
    "encode",
    "open_client",
    "region_cache",
    "region_tiles",
    "region_window",
    "resolve_device",
]
