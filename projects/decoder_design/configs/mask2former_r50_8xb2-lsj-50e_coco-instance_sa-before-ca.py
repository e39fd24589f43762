# Mask2Former R50 on COCO instance with self-attention before cross-attention (Table 4b);
# nothing in segformers/ is edited (projects/decoder_design/README.md).
_base_ = ["../../../configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"]
custom_imports = dict(imports=["projects.decoder_design.decoder_design"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="DesignAblationDecoder", layer_order="sa-ca-ffn"))
