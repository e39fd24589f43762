"""High-level entry points: build models, load weights, run them."""
from ..models.build import build_model, load_config
from ..weights_io import load_state_dict_file, load_weights
from .inference import Predictor, inference, predictor_of, test_pipeline
from .model import forward_logits, init_model

__all__ = [
    "Predictor", "build_model", "forward_logits", "inference", "init_model", "load_config",
    "load_state_dict_file", "load_weights", "predictor_of", "test_pipeline",
]
