# Official config: configs/ade20k-150/maskformer_R50_bs16_160k.yaml
# Official weights: model_final_d8dbeb.pkl (model 40931736_14)
_base_ = "./_base_/ade20k-512x512.py"
