# Official config: configs/ade20k-150/maskformer_R101c_bs16_160k.yaml
# Official weights: model_final_b432ea.pkl (model 41703904_1)
_base_ = "./_base_/ade20k-512x512.py"
model = dict(
    backbone=dict(depth=101, stem_type="deeplab", stem_out_channels=128, res5_multi_grid=[1, 2, 4],
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-103.pkl")),
)
