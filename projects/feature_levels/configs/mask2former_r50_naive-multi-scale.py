# Mask2Former R50 whose decoder attends to 1/32, 1/16 and 1/8 concatenated in every layer (paper Table 4d "naive m.s.").
_base_ = ["../../../configs/_base_/models/mask2former_r50.py"]
custom_imports = dict(imports=["projects.feature_levels.feature_levels"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="NaiveMultiScaleMaskedDecoder"))
