# The quick start (configs/quickstart) with learnable query features without supervision (Table Xb):
# the toy-data twin of the ablation (projects/decoder_design/README.md).
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.decoder_design.decoder_design"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="DesignAblationDecoder", query_features="learnable_unsupervised"))
