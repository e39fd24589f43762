# The quick start (configs/quickstart) with SMCA-style spatially modulated cross-attention
# (Table 4c "SMCA"): the toy-data twin of the ablation (projects/attention_types/README.md).
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.attention_types.attention_types"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="SMCADecoder"))
