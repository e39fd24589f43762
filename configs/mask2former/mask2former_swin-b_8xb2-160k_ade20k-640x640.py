# Official config: configs/ade20k/semantic-segmentation/swin/maskformer2_swin_base_384_bs16_160k_res640.yaml
# Official weights: model_final_503e96.pkl (model 48333153_5)
_base_ = ["./_base_/ade20k-640x640.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384.pth")),
)
