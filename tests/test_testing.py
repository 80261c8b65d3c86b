"""The test models are not vacuous: their latents round to many non-zero symbols."""

import pytest
import torch

from tilestream.models import transforms
from tilestream.testing import SMALL_CONFIGS, small_model, smooth_image


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_small_models_have_latents_with_a_spread_of_several_units(name):
    found = transforms(small_model(name))
    x = smooth_image(192, 256, seed=7)  # not the image the scale was fitted on
    with torch.no_grad():
        y = found["g_a"](x)
        assert float(y.std()) > 2.0
        assert float((torch.round(y) != 0).float().mean()) > 0.6
        if "h_a" in found:
            z = found["h_a"](y)
            assert float(z.std()) > 1.5
            assert float((torch.round(z) != 0).float().mean()) > 0.6
