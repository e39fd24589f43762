# Official config: configs/coco-stuff-10k-171/maskformer_R101c_bs32_60k.yaml
# Official weights: model_final_bffd25.pkl (model 41703904_3)
_base_ = "./_base_/coco-stuff10k-640x640.py"
model = dict(
    backbone=dict(depth=101, stem_type="deeplab", stem_out_channels=128, res5_multi_grid=[1, 2, 4],
                  init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-103.pkl")),
)
