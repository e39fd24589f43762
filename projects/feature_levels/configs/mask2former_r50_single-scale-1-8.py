# Mask2Former R50 whose decoder attends to the 1/8 map only, in all 9 layers (paper Table 4d).
_base_ = ["../../../configs/_base_/models/mask2former_r50.py"]
custom_imports = dict(imports=["projects.feature_levels.feature_levels"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="SingleScaleMaskedDecoder", single_scale_level=2))
