"""Training and fine-tuning of models on random crops of real imagery."""

from tilestream.train.data import CropSampler, list_images, split_heldout
from tilestream.train.loop import TrainConfig, parse_arch, train

__all__ = ["CropSampler", "TrainConfig", "list_images", "parse_arch", "split_heldout", "train"]
