# Official config: configs/ade20k-150-panoptic/maskformer_panoptic_R50_bs16_720k.yaml
# Official weights: model_final_7aa977.pkl (model 42746872_1)
_base_ = "./_base_/ade20k-panoptic.py"
