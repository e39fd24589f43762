# The quick start (configs/quickstart) with standard cross-attention: the toy-data twin of the ablation.
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.no_masked_attention.no_masked_attention"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="PlainCrossAttentionDecoder"))
