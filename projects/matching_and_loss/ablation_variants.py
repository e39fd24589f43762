"""Table 5 (matching on masks vs points x loss on masks vs points) as ablation-runner variants, and Table XII
(MaskFormer vs Mask2Former) as variants where options on the paper base can express them.

No new code: the base model declares ``num_points`` once and copies it into the matcher
(``model.criterion.matcher.num_points``) and the criterion (``model.criterion.num_points``); ``None``
means whole masks (matcher: ground truth downsampled with ``nearest`` to the 1/4 prediction; criterion:
predictions upsampled bilinearly to the padded ground truth). Point/point is the runner's baseline row.
``paper.memory_gb`` is the paper's training memory per image on COCO.
"""
MATCHER_POINTS = "model.criterion.matcher.num_points"
LOSS_POINTS = "model.criterion.num_points"
# Table XII (b): the MaskFormer model (TransformerEncoderPixelDecoder with 6 encoder layers, 6-layer DETR
# decoder on its 1/32 output, dropout 0.1, zero-initialised query features) trained with Mask2Former's
# parameters, i.e. the paper base's criterion (point loss, weights 2 / 5 / 5) and schedule. Feed-forward widths
# follow the base decoder's (2048 on the paper base = MaskFormer's; the toy base's 512 on the toy base).
MASKFORMER_MODEL = {
    "model.pixel_decoder": dict(
        _delete_=True, type="TransformerEncoderPixelDecoder", conv_dim="${model.pixel_decoder.conv_dim}",
        mask_dim="${model.pixel_decoder.mask_dim}", norm="${model.pixel_decoder.norm}",
        in_features="${model.backbone.out_features}", transformer_enc_layers=6,
        transformer_nheads="${model.transformer_decoder.nheads}",
        transformer_dim_feedforward="${model.transformer_decoder.dim_feedforward}",
        transformer_dropout=0.1),
    "model.transformer_decoder": dict(
        _delete_=True, type="StandardTransformerDecoder", in_feature="encoder",
        hidden_dim="${model.transformer_decoder.hidden_dim}", num_queries="${model.transformer_decoder.num_queries}",
        nheads="${model.transformer_decoder.nheads}", dropout=0.1,
        dim_feedforward="${model.transformer_decoder.dim_feedforward}", dec_layers=6,
        pre_norm=False, enforce_input_project=False),
}

VARIANTS = [
    dict(name="match_mask_loss_mask", table="5", label="matching: mask, loss: mask", custom_imports=[],
         options={MATCHER_POINTS: None, LOSS_POINTS: None}, paper=dict(AP=41.0, PQ=50.3, mIoU=45.9, memory_gb=18)),
    dict(name="match_mask_loss_point", table="5", label="matching: mask, loss: point", custom_imports=[],
         options={MATCHER_POINTS: None}, paper=dict(AP=41.0, PQ=50.8, mIoU=45.9, memory_gb=6)),
    dict(name="match_point_loss_mask", table="5", label="matching: point, loss: mask", custom_imports=[],
         options={LOSS_POINTS: None}, paper=dict(AP=43.1, PQ=51.4, mIoU=47.3, memory_gb=18)),
    dict(name="maskformer_m2f_params", table="XII", label="MaskFormer, Mask2Former params", custom_imports=[],
         options=MASKFORMER_MODEL, paper=dict(AP=37.8, PQ=48.2, mIoU=45.3)),
]

# Table XII rows that options on the paper base cannot express (their data pipeline, optimizer and
# schedule differ too): whole configs. Row (c), the Mask2Former decoder with the FPN pixel decoder and
# Mask2Former params, is the "fpn" variant of projects/pixel_decoders (the same model and numbers) and
# also a config here.
CONFIG_VARIANTS = [
    dict(name="maskformer_mf_params", table="XII", label="MaskFormer, MaskFormer params",
         config="configs/ablations/table12/maskformer_r50_16xb1-75e_coco-instance.py",
         paper=dict(AP=34.0, PQ=46.5, mIoU=44.5)),
    dict(name="maskformer_m2f_params", table="XII", label="MaskFormer, Mask2Former params",
         config="configs/ablations/table12/maskformer_r50_8xb2-lsj-50e_coco-instance_m2f-params.py",
         paper=dict(AP=37.8, PQ=48.2, mIoU=45.3)),
    dict(name="m2f_fpn_m2f_params", table="XII", label="Mask2Former decoder + FPN, Mask2Former params",
         config="configs/ablations/table12/mask2former_r50_8xb2-lsj-50e_coco-instance_fpn.py",
         paper=dict(flops_g=195, AP=41.5, PQ=50.7, mIoU=45.6)),
]
