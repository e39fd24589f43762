# Official config: configs/coco/instance-segmentation/swin/maskformer2_swin_base_384_bs16_50ep.yaml
# Official weights: model_final_f6e0f6.pkl (model 48558700_4)
_base_ = ["./_base_/coco-instance.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384.pth")),
)
