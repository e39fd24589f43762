"""High-level entry points: build models, load weights, run them."""
from .inference import inference
from .model import build_model, forward_logits, init_model, load_config, load_state_dict_file, load_weights

__all__ = [
    "build_model", "forward_logits", "inference", "init_model", "load_config", "load_state_dict_file",
    "load_weights",
]
