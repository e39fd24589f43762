# The quick start (configs/quickstart) with K-Net-style mask pooling instead of cross-attention
# (Table 4c "mask pooling"): the toy-data twin of the ablation (projects/attention_types/README.md).
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.attention_types.attention_types"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="MaskPoolingDecoder"))
