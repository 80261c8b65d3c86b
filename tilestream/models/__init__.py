"""Model registry (CompressAI names) and module → layer graph analysis."""

from tilestream.models.graph import LayerGraph, Step, analyse
from tilestream.models.registry import TRANSFORMS, build_model, model_names, transforms

__all__ = ["TRANSFORMS", "LayerGraph", "Step", "analyse", "build_model", "model_names", "transforms"]
