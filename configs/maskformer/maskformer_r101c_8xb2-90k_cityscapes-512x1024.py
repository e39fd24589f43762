# Official config: configs/cityscapes-19/maskformer_R101c_bs16_90k.yaml
# Official weights: model_final_4f8ff9.pkl (model 41630444_2)
_base_ = "./_base_/cityscapes-512x1024.py"
model = dict(
    backbone=dict(depth=101, stem_type="deeplab", stem_out_channels=128, res5_multi_grid=[1, 2, 4],
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-103.pkl")),
)
