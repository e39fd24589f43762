# Mask2Former paper Table XII (b): the MaskFormer R50 model trained with Mask2Former's parameters on COCO
# instance: the Mask2Former COCO-instance config (AdamW lr 1e-4, weight decay 0.05, batch 16, 50 epochs, LSJ,
# loss weights class 2 / BCE 5 / dice 5 on 12544 importance-sampled points, matching on points) with
# MaskFormer's pixel decoder (TransformerEncoderPixelDecoder, 6 encoder layers) and decoder (6 DETR layers,
# SA-CA-FFN, dropout 0.1, features {1/32} x 6, zero-initialised query features). Also the variant
# "maskformer_m2f_params" of projects/matching_and_loss/ablation_variants.py.
_base_ = ["../../mask2former/mask2former_r50_8xb2-lsj-50e_coco-instance.py"]
model = dict(
    pixel_decoder=dict(_delete_=True, type="TransformerEncoderPixelDecoder", conv_dim=256, mask_dim=256, norm="GN",
                       transformer_enc_layers=6, transformer_nheads=8, transformer_dim_feedforward=2048,
                       transformer_dropout=0.1),
    transformer_decoder=dict(_delete_=True, type="StandardTransformerDecoder", in_feature="encoder", hidden_dim=256,
                             num_queries=100, nheads=8, dropout=0.1, dim_feedforward=2048, dec_layers=6,
                             pre_norm=False, enforce_input_project=False),
)
