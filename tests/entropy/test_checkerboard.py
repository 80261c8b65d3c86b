"""The checkerboard pass: the encoder's ``ŷ`` is the decoder's, bit for bit.

Encoding dequantises its own symbols instead of rANS-decoding its own stream (what
CompressAI's ``compress()`` does to get ``ŷ``); both must give the same float32 bits, also
for symbols outside the CDF tables (coded in rANS bypass mode), or the non-anchor pass
would read another context than the decoder.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import cached_model
from tilestream.entropy.checkerboard import checkerboard_halo, checkerboard_step


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float32).contiguous().view(torch.int32)


@pytest.mark.parametrize("with_means", [False, True])
def test_dequantised_symbols_are_the_decoded_stream_bit_for_bit(with_means):
    gc = cached_model("mbt2018-mean").gaussian_conditional
    g = torch.Generator().manual_seed(3)
    y = torch.randn((1, 8, 24, 24), generator=g) * 30  # far past the tables of small scales
    y[0, 0, 0, :4] = torch.tensor([-0.3, -0.0, 0.2, -0.49])  # rounds to -0.0 without means
    scales = torch.rand((1, 8, 24, 24), generator=g) * 4
    means = torch.randn((1, 8, 24, 24), generator=g) * 3 if with_means else None
    indexes = gc.build_indexes(scales)
    (data,) = gc.compress(y, indexes, means)
    decoded = gc.decompress([data], indexes, means=means)
    symbols = gc.quantize(y, "symbols", means)
    rebuilt = gc.dequantize(symbols, means)
    # not vacuous: many symbols lie outside their CDF table (bypass-coded), many are non-zero
    reach = (gc._cdf_length[indexes.long()] - 2 - 1 + gc._offset[indexes.long()]).to(torch.int32)
    outside = (symbols < gc._offset[indexes.long()]) | (symbols > reach)
    assert float(outside.float().mean()) > 0.2
    assert float((symbols != 0).float().mean()) > 0.8
    assert torch.equal(_bits(rebuilt), _bits(decoded))


def test_checkerboard_encode_passes_rebuild_what_the_decoder_decodes():
    model = cached_model("cheng2020-anchor-checkerboard")
    cb = model.latent_codec["y"]
    g = torch.Generator().manual_seed(5)
    h, w, m = 12, 16, cb.context_prediction.in_channels
    y = torch.randn((1, m, h, w), generator=g) * 8
    side = torch.randn((1, cb.entropy_parameters[0].in_channels - cb.context_prediction.out_channels, h, w), generator=g)
    halo = checkerboard_halo(cb)
    zeros = torch.zeros_like(y)
    payloads, enc, dec = [], zeros, zeros
    for step in (0, 1):
        anchors_enc = F.pad(enc, (halo,) * 4) if step else None
        anchors_dec = F.pad(dec, (halo,) * 4) if step else None
        data, enc = checkerboard_step(cb, step, side=side, own=enc, anchors=anchors_enc, y=y, data=None)
        _, dec = checkerboard_step(cb, step, side=side, own=dec, anchors=anchors_dec, y=None, data=data)
        assert torch.equal(_bits(enc), _bits(dec)), f"pass {step}: the encoder's ŷ is not the decoder's"
        payloads.append(data)
    # and both are CompressAI's own: same bytes and ŷ as CheckerboardLatentCodec.compress
    ref = cb.compress(y, side)
    assert [s[0] for s in ref["strings"]] == payloads
    assert torch.equal(_bits(ref["y_hat"]), _bits(enc))
    assert float((enc.abs() > 0.5).float().mean()) > 0.5
