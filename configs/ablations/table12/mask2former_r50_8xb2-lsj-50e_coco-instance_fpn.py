# Mask2Former paper Table XII (c) (= Table 4e "FPN"): Mask2Former's decoder with the FPN pixel decoder
# (MaskFormer's BasePixelDecoder: its 1/32, 1/16, 1/8 maps feed the masked-attention decoder) and Mask2Former's
# training parameters, on COCO instance. Also the variant "fpn" of projects/pixel_decoders/ablation_variants.py.
_base_ = ["../../mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"]
model = dict(
    pixel_decoder=dict(_delete_=True, type="FPNPixelDecoder", conv_dim=256, mask_dim=256, norm="GN",
                       in_features=["res2", "res3", "res4", "res5"]),
)
