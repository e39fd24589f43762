# Mask2Former with Swin-T: the R50 model with its backbone swapped.
_base_ = ["./mask2former_r50.py", "../backbones/swin.py"]
model = dict(backbone=dict(_delete_=True, **_base_.swin_t))
