# Official config: configs/coco-panoptic/swin/maskformer_panoptic_swin_tiny_bs64_554k.yaml
# Official weights: model_final_539394.pkl (model 41143190_0)
_base_ = ["./_base_/coco-panoptic-swin.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_t,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_tiny_patch4_window7_224.pth")),
)
