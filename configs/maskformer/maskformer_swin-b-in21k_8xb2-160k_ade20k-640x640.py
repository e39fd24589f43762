# Official config: configs/ade20k-150/swin/maskformer_swin_base_IN21k_384_bs16_160k_res640.yaml
# Official weights: model_final_45388b.pkl (model 40986951_0)
_base_ = ["./_base_/ade20k-640x640-swin.py", "../_base_/backbones/swin.py"]
model = dict(
    backbone=dict(_delete_=True, **_base_.swin_b,
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/swin_base_patch4_window12_384_22k.pth")),
)
