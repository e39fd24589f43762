# Mask2Former R50 with standard cross-attention in the decoder (paper Table 4a/4c); nothing in segformers/ is
# edited. Swap the model of any Mask2Former config the same way (see README.md).
_base_ = ["../../../configs/_base_/models/mask2former_r50.py"]
custom_imports = dict(imports=["projects.no_masked_attention.no_masked_attention"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="PlainCrossAttentionDecoder"))
