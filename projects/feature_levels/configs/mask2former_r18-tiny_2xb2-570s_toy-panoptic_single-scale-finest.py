# The quick start (configs/quickstart) whose decoder attends to its finest multi-scale map only (1/4: the toy
# base's levels are res4, res3, res2 = 1/16, 1/8, 1/4): the toy twin of Table 4d's single-scale rows.
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.feature_levels.feature_levels"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="SingleScaleMaskedDecoder", single_scale_level=2))
