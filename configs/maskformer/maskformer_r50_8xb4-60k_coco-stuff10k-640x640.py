# Official config: configs/coco-stuff-10k-171/maskformer_R50_bs32_60k.yaml
# Official weights: model_final_cb03eb.pkl (model 40941321_6)
_base_ = "./_base_/coco-stuff10k-640x640.py"
