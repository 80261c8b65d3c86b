"""ELIC, block-wise: ``elic2022-official`` (uneven channel groups × checkerboard).

For channel group ``k`` CompressAI's :class:`~compressai.latent_codecs.ChannelGroupsLatentCodec`
computes a *channel context* from the decoded groups ``< k`` (three 5×5 convolutions, so it
reaches 6 latent samples around a chunk), concatenates it with the ``h_s`` parameters and
codes the group with a checkerboard (anchors, then non-anchors). Block-wise that is
``2 × groups`` phases; phase ``2k`` (group ``k`` anchors) reads the finished groups ``< k`` of
the neighbours inside the channel context's halo, phase ``2k + 1`` also the group's anchors
inside the checkerboard halo. The channel context runs exactly on the chunk's window (zero
padding of every layer at the latent's border) through :func:`~tilestream.execute.run_window`.
"""

from __future__ import annotations

import torch
from torch import nn

from tilestream.entropy.checkerboard import checkerboard_halo, checkerboard_step
from tilestream.entropy.base import Phase
from tilestream.entropy.phased import PhasedCodec, grow, phase_reads
from tilestream.execute.crop import take
from tilestream.execute.run import run_window
from tilestream.geometry import Window, axis_halo
from tilestream.models.graph import analyse

__all__ = ["ElicCodec"]


class ElicCodec(PhasedCodec):
    """``elic2022-official``: for each channel group, anchors then non-anchors."""

    family = "elic"

    def __init__(self, model: nn.Module):
        super().__init__(model)
        groups_codec = model.latent_codec["y"]
        self.groups = list(groups_codec.groups)
        self.acc = list(groups_codec.groups_acc)
        self.cbs = [groups_codec.latent_codec[f"y{k}"] for k in range(len(self.groups))]
        self.channel_graphs = {
            k: analyse(groups_codec.channel_context[f"y{k}"], f"channel_context.y{k}")
            for k in range(1, len(self.groups))
        }
        phases = []
        for k, cb in enumerate(self.cbs):
            channel = 0
            if k in self.channel_graphs:
                spatial = self.channel_graphs[k].spatial
                rows, cols = axis_halo(spatial, 0), axis_halo(spatial, 1)
                channel = max(rows.before, rows.after, cols.before, cols.after)
            spatial_halo = checkerboard_halo(cb)
            halos = (channel, max(channel, spatial_halo))
            for step, what in enumerate(("anchors", "non-anchors")):
                n = 2 * k + step
                name = f"group {k} ({self.groups[k]} ch) {what}"
                phases.append(Phase(f"y/phase-{n}", name, halos[step], phase_reads(n, halos[step])))
        self.phases = tuple(phases)
        self.spatial_halos = [checkerboard_halo(cb) for cb in self.cbs]

    def phase(self, k, *, chunk, y_shape, params, context, y=None, data=None, guard=None):
        group, step = divmod(k, 2)
        lo, hi = self.acc[group], self.acc[group + 1]
        have = self.context_window(k, chunk)
        if context is None or have is None:
            own = params.new_zeros((params.shape[0], self.acc[-1], *chunk.shape))
        else:
            own = take(context, have, chunk, chunk)
        side = params
        if group > 0:
            assert context is not None and have is not None
            channel_ctx = run_window(self.channel_graphs[group], context[:, :lo], have, chunk, y_shape)
            side = torch.cat((channel_ctx, params), dim=1)
        anchors = None
        if step == 1:
            assert context is not None and have is not None
            reach: Window = grow(chunk, self.spatial_halos[group])
            anchors = take(context[:, lo:hi], have, reach, reach)
        payload, group_hat = checkerboard_step(
            self.cbs[group], step, side=side, own=own[:, lo:hi], anchors=anchors,
            y=None if y is None else y[:, lo:hi], data=data, guard=guard,
        )
        out = own.clone()
        out[:, lo:hi] = group_hat
        return payload, out
