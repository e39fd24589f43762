# Official config: configs/ade20k/semantic-segmentation/swin/maskformer2_swin_small_bs16_160k.yaml
# Official weights: model_final_011c6d.pkl (model 48333149_5)
_base_ = ["./_base_/ade20k-512x512.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_s,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_small_patch4_window7_224.pth")),
)
