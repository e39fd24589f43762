# Official config: configs/ade20k-150/swin/maskformer_swin_small_bs16_160k.yaml
# Official weights: model_final_528157.pkl (model 40846700_5)
_base_ = ["./_base_/ade20k-512x512-swin.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_s,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_small_patch4_window7_224.pth")),
)
