# Mask2Former with both of the plugin's parts: the PlainConvBackbone and the LiteFPNPixelDecoder; nothing in
# segformers/ is edited. The pixel decoder and the transformer decoder size themselves from the backbone's
# output_shape().
_base_ = ["./mask2former_r50_lite-fpn.py"]
model = dict(backbone=dict(_delete_=True, type="PlainConvBackbone", widths=[32, 64, 128, 256], depth=2))
