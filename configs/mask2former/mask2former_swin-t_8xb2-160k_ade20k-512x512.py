# Official config: configs/ade20k/semantic-segmentation/swin/maskformer2_swin_tiny_bs16_160k.yaml
# Official weights: model_final_5274a6.pkl (model 48333144_5)
_base_ = ["./_base_/ade20k-512x512.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_t,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_tiny_patch4_window7_224.pth")),
)
