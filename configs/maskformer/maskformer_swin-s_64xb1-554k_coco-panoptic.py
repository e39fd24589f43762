# Official config: configs/coco-panoptic/swin/maskformer_panoptic_swin_small_bs64_554k.yaml
# Official weights: model_final_5bf6b1.pkl (model 41270920)
_base_ = ["./_base_/coco-panoptic-swin.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_s,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_small_patch4_window7_224.pth")),
)
