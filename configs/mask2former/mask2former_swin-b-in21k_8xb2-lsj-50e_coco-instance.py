# Official config: configs/coco/instance-segmentation/swin/maskformer2_swin_base_IN21k_384_bs16_50ep.yaml
# Official weights: model_final_83d103.pkl (model 48558700_6)
_base_ = ["./_base_/coco-instance.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384_22k.pth")),
)
