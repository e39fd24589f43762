"""Table 4d of Mask2Former (features fed to the decoder) as plugins, registered without touching ``segformers/``."""
from .decoders import NaiveMultiScaleMaskedDecoder, SingleScaleMaskedDecoder, multi_level_attention_mask

__all__ = ["SingleScaleMaskedDecoder", "NaiveMultiScaleMaskedDecoder", "multi_level_attention_mask"]
