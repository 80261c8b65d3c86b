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


def test_a_model_rebuilt_from_its_state_has_the_same_weights_and_tables():
    import numpy as np

    from tilestream.models.spec import weights_sha256
    from tilestream.testing import spread_layers

    model = small_model("mbt2018-mean", seed=3)
    model.update(force=True)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    again = small_model("mbt2018-mean", seed=5, state=state)  # another seed: nothing comes from it
    assert weights_sha256(again) == weights_sha256(model)
    # the rescaled layers alone, over the same seed, rebuild the weights before update()
    fresh = small_model("mbt2018-mean", seed=3)
    partial = small_model("mbt2018-mean", seed=3, state=spread_layers(fresh))
    assert weights_sha256(partial) == weights_sha256(fresh)
    # the last convolution of g_a, h_a and g_s in CompressAI's MeanScaleHyperprior
    assert set(spread_layers(fresh)) == {f"{t}.{k}" for t in ("g_a.6", "h_a.4", "g_s.6") for k in ("weight", "bias")}
    with pytest.raises(ValueError, match="state lacks .*; pass spread_layers"):
        small_model("mbt2018-mean", state={k: v for k, v in state.items() if not k.startswith("g_a")})
    assert np.array_equal(again.state_dict()["g_a.0.weight"].numpy(), state["g_a.0.weight"])
