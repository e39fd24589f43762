# Official config: configs/ade20k/semantic-segmentation/maskformer2_R101_bs16_90k.yaml (named 90k, trains 160k)
# Official weights: model_final_0d68be.pkl (model 48243040_0)
_base_ = "./_base_/ade20k-512x512.py"
model = dict(  # this config alone sets SyncBN on ADE20K
    backbone=dict(depth=101, norm="SyncBN",
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")),
)
