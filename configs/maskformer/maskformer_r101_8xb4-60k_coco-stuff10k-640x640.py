# Official config: configs/coco-stuff-10k-171/maskformer_R101_bs32_60k.yaml
# Official weights: model_final_eb19bb.pkl (model 40986940_1)
_base_ = "./_base_/coco-stuff10k-640x640.py"
model = dict(backbone=dict(depth=101, init_cfg=dict(type="Pretrained", checkpoint="pretrained/R-101.pkl")))
