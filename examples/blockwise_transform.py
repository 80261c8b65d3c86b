"""Run a CompressAI analysis transform block by block and check it equals full-image inference.

    python examples/blockwise_transform.py
"""

import torch

import tilestream
from tilestream.models import build_model

model = build_model("mbt2018-mean", quality=3)  # random weights; load a checkpoint for real use
image = torch.rand(1, 3, 700, 1000)  # any size: borders are handled exactly

y_blocks = tilestream.blockwise(model.g_a, image, block=8)  # 8×8 latent samples per block
with torch.no_grad():
    y_full = model.g_a(image)
print("max |block-wise − full-image| =", float((y_blocks - y_full).abs().max()))

halo = tilestream.overlap(model)["g_a"]["halo"]
print(f"g_a halo: {halo[0]} px before, {halo[1]} px after each aligned 16-px block")
