# Official config: configs/ade20k-full-847/maskformer_R50_bs16_200k.yaml
# Official weights: model_final_f4e3f6.pkl (model 40986914_1)
_base_ = "./_base_/ade20k-full-512x512.py"
