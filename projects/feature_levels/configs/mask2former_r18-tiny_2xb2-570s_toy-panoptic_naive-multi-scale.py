# The quick start (configs/quickstart) whose decoder attends to all its levels concatenated in every layer.
_base_ = ["../../../configs/quickstart/mask2former_r18-tiny_2xb2-570s_toy-panoptic.py"]
custom_imports = dict(imports=["projects.feature_levels.feature_levels"], allow_failed_imports=False)
model = dict(transformer_decoder=dict(type="NaiveMultiScaleMaskedDecoder"))
