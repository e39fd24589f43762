# Mask2Former R50 on COCO instance with SMCA-style spatially modulated cross-attention (Table 4c "SMCA")
# in the decoder; nothing in segformers/ is edited (projects/attention_types/README.md).
_base_ = ["../../../configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"]
custom_imports = dict(imports=["projects.attention_types.attention_types"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="SMCADecoder"))
