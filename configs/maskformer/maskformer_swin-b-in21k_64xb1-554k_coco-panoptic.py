# Official config: configs/coco-panoptic/swin/maskformer_panoptic_swin_base_IN21k_384_bs64_554k.yaml
# Official weights: model_final_4b7f49.pkl (model 41260906)
_base_ = ["./_base_/coco-panoptic-swin.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384_22k.pth")),
)
