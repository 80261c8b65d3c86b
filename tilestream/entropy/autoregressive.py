"""Serial autoregressive context, block-wise: ``mbt2018``, ``cheng2020-anchor``, ``cheng2020-attn``.

CompressAI's :class:`~compressai.models.JointAutoregressiveHierarchicalPriors` codes ``y`` in
raster order; sample ``(r, c)`` gets its Gaussian from ``h_s`` parameters and a 5×5 masked
convolution over the samples already decoded. Block-wise, the latent is cut into *sheared*
tiles (:class:`~tilestream.geometry.shear.ShearedGrid`) that form a wavefront DAG; each tile
is one rANS stream, coded sample by sample with exactly CompressAI's operations, its context
read from a buffer holding the ``ŷ`` of the tiles it depends on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tilestream.entropy.base import ChunkCodec
from tilestream.errors import UnsupportedModuleError
from tilestream.geometry import Window
from tilestream.models.compat import compressai

__all__ = ["AutoregressiveCodec"]


class AutoregressiveCodec(ChunkCodec):
    """Joint autoregressive + hyperprior models, coded in sheared tiles."""

    family = "autoregressive"
    kind = "autoregressive"
    streams = ("z", "y")

    def __init__(self, model: nn.Module):
        super().__init__(model)
        conv = model.context_prediction
        k = conv.kernel_size
        if k[0] != k[1] or k[0] % 2 == 0 or tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1):
            raise UnsupportedModuleError(
                f"context model {conv} is not a centred odd stride-1 masked convolution; "
                f"only CompressAI's MaskedConv2d contexts are supported"
            )
        self.kernel = k[0]
        self.pad = k[0] // 2
        mask = conv.mask[0, 0]
        rows = []
        for a in range(self.kernel):
            cols = [b for b in range(self.kernel) if float(mask[a, b]) != 0.0]
            if cols:
                if cols != list(range(cols[0], cols[-1] + 1)):
                    raise UnsupportedModuleError(f"context mask row {a} of {conv} is not contiguous")
                rows.append((a - self.pad, cols[0] - self.pad, cols[-1] - self.pad))
        #: the causal context, ``(dy, dx_lo, dx_hi)`` per row
        self.context = tuple(rows)

    def describe(self) -> list[dict[str, object]]:
        from tilestream.geometry.shear import context_slope

        return [{
            "stream": "y", "phase": "serial context, sheared tiles as a wavefront",
            "halo": self.pad,
            "reads": "ŷ of the tile on the left and of the tiles above / above-right",
            "context": [list(row) for row in self.context],
            "slope": context_slope(self.context),
        }]

    def code_tile(
        self,
        positions: list[tuple[int, int]],
        box: Window,
        params: Tensor,
        buffer: Tensor,
        buffer_window: Window,
        y: Tensor | None = None,
        data: bytes | None = None,
    ) -> tuple[bytes | None, Tensor]:
        """Encode (``y`` given) or decode (``data`` given) one tile, sample by sample.

        Parameters
        ----------
        positions : list of (int, int)
            The tile's latent samples in coding order.
        box : Window
            The tile's bounding box; ``params`` and ``y`` cover it.
        params : Tensor
            ``h_s`` output on ``box``.
        buffer : Tensor
            ``ŷ`` of the tiles this tile depends on (zeros elsewhere) on ``buffer_window``,
            which must contain ``box`` grown by the kernel's reach.

        Returns
        -------
        bytes or None, Tensor
            The tile's bytes when encoding, and its ``ŷ`` on ``box`` (zero outside the tile).
        """
        model = self.model
        gc = model.gaussian_conditional
        conv = model.context_prediction
        cdf = gc.quantized_cdf.tolist()
        cdf_lengths = gc.cdf_length.tolist()
        offsets = gc.offset.tolist()
        masked_weight = conv.weight * conv.mask
        k, pad = self.kernel, self.pad
        buf = buffer.clone()
        out = params.new_zeros((1, buf.shape[1], *box.shape))
        ans = compressai().ans
        encoding = y is not None
        if encoding:
            encoder = ans.BufferedRansEncoder()
            symbols: list[int] = []
            indexes_list: list[int] = []
        else:
            decoder = ans.RansDecoder()
            decoder.set_stream(data)
        oy, ox = buffer_window.y.start, buffer_window.x.start
        for r, c in positions:
            br, bc = r - pad - oy, c - pad - ox
            y_crop = buf[:, :, br : br + k, bc : bc + k]
            ctx_p = F.conv2d(y_crop, masked_weight, bias=conv.bias)
            pr, pc = r - box.y.start, c - box.x.start
            p = params[:, :, pr : pr + 1, pc : pc + 1]
            gaussian_params = model.entropy_parameters(torch.cat((p, ctx_p), dim=1))
            if encoding:
                gaussian_params = gaussian_params.squeeze(3).squeeze(2)
                scales_hat, means_hat = gaussian_params.chunk(2, 1)
                indexes = gc.build_indexes(scales_hat)
                y_q = gc.quantize(y[:, :, pr, pc], "symbols", means_hat)
                value = (y_q + means_hat).reshape(1, -1, 1, 1)
                symbols.extend(y_q.squeeze().tolist())
                indexes_list.extend(indexes.squeeze().tolist())
            else:
                scales_hat, means_hat = gaussian_params.chunk(2, 1)
                indexes = gc.build_indexes(scales_hat)
                rv = decoder.decode_stream(indexes.squeeze().tolist(), cdf, cdf_lengths, offsets)
                rv = torch.Tensor(rv).reshape(1, -1, 1, 1)
                value = gc.dequantize(rv, means_hat)
            buf[:, :, br + pad : br + pad + 1, bc + pad : bc + pad + 1] = value
            out[:, :, pr : pr + 1, pc : pc + 1] = value
        if encoding:
            encoder.encode_with_indexes(symbols, indexes_list, cdf, cdf_lengths, offsets)
            return encoder.flush(), out
        return None, out
