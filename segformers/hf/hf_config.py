"""segformers model config -> a transformers ``config.json`` (the inverse of ``checkpoint.hf.hf_model_cfg``).

Only what transformers' ``Mask2FormerForUniversalSegmentation`` / ``MaskFormerForInstanceSegmentation``
can express is accepted; anything else raises ``ValueError`` naming the option and the value
transformers needs. Training-only choices that transformers cannot express either (the matcher's cost
weights when they differ from the loss weights) raise too, so nothing is silently dropped; speed
options that leave the numbers unchanged up to rounding (``channels_last``, ``autocast_dtype``,
``freeze_at``, ``frozen_stages``) are not part of the HF config.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional, Sequence

from segformers.registry import BACKBONES, CRITERIA, PIXEL_DECODERS, TRANSFORMER_DECODERS

STAGES = ["res2", "res3", "res4", "res5"]
HF_STAGES = ["stage1", "stage2", "stage3", "stage4"]
ARCHITECTURE = {"mask2former": "Mask2FormerForUniversalSegmentation",
                "maskformer": "MaskFormerForInstanceSegmentation"}


def with_defaults(registry, cfg: dict) -> dict:  # noqa: ANN001
    """``cfg`` completed with its class's keyword defaults (``type`` kept)."""
    cls = registry.get(cfg["type"]) if isinstance(cfg["type"], str) else cfg["type"]
    if cls is None:
        raise ValueError(f"{cfg['type']!r} is not registered in {registry.name}.")
    params = inspect.signature(cls).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return {**defaults, **dict(cfg)}


def _require(part: str, cfg: dict, key: str, allowed: Sequence[Any]) -> None:
    value = cfg.get(key)
    value = list(value) if isinstance(value, tuple) else value
    if value not in [list(a) if isinstance(a, tuple) else a for a in allowed]:
        raise ValueError(f"{part}.{key}={value!r} cannot be expressed in a transformers config "
                         f"(it needs {' or '.join(repr(a) for a in allowed)}).")


def _resnet(cfg: dict) -> dict:
    from segformers.models.backbones.resnet import BLOCKS_PER_DEPTH

    for key, allowed in (("stem_type", ["basic"]), ("num_groups", [1]), ("res5_dilation", [1]),
                         ("res5_multi_grid", [[1, 1, 1]]), ("norm", ["FrozenBN", "BN", "SyncBN"]),
                         ("out_features", [STAGES])):
        _require("backbone", cfg, key, allowed)
    basic = cfg["depth"] in (18, 34)
    width = cfg["res2_out_channels"]
    if not basic and cfg["width_per_group"] * 4 != width:
        raise ValueError(f"backbone.width_per_group={cfg['width_per_group']} with res2_out_channels={width}: "
                         f"transformers' bottleneck has res2_out_channels / 4 = {width // 4} channels inside.")
    stem = cfg["stem_out_channels"] or 64
    return dict(model_type="resnet", num_channels=3, embedding_size=stem, hidden_act="relu",
                hidden_sizes=[width * 2**i for i in range(4)],
                depths=list(cfg["num_blocks_per_stage"] or BLOCKS_PER_DEPTH[cfg["depth"]]),
                layer_type="basic" if basic else "bottleneck", downsample_in_first_stage=False,
                downsample_in_bottleneck=bool(cfg["stride_in_1x1"]), out_features=HF_STAGES)


def _swin(cfg: dict, family: str) -> dict:
    for key, allowed in (("ape", [False]), ("patch_norm", [True]), ("drop_rate", [0.0]),
                         ("attn_drop_rate", [0.0]), ("out_features", [STAGES])):
        _require("backbone", cfg, key, allowed)
    return dict(model_type="maskformer-swin" if family == "maskformer" else "swin", embed_dim=cfg["embed_dim"],
                depths=list(cfg["depths"]), num_heads=list(cfg["num_heads"]), window_size=cfg["window_size"],
                patch_size=cfg["patch_size"], image_size=cfg["pretrain_img_size"], mlp_ratio=cfg["mlp_ratio"],
                qkv_bias=cfg["qkv_bias"], drop_path_rate=cfg["drop_path_rate"], hidden_act="gelu",
                use_absolute_embeddings=False, layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, num_channels=3, out_features=HF_STAGES)


def backbone_config(model_cfg: dict, family: str) -> dict:
    """The ``backbone_config`` of the HF config."""
    cfg = with_defaults(BACKBONES, model_cfg["backbone"])
    cfg.pop("init_cfg", None)
    if cfg["type"] == "ResNet":
        return _resnet(cfg)
    if cfg["type"] == "SwinTransformer":
        return _swin(cfg, family)
    raise ValueError(f"backbone type {cfg['type']!r}: transformers' classes take ResNet or SwinTransformer here.")


def _costs(matcher: dict) -> dict[str, float]:
    return {c["type"]: float(c.get("weight", 1.0)) for c in matcher.get("costs", [])}


def _losses(criterion: dict) -> dict[str, float]:
    mask_losses = {c["type"]: float(c.get("loss_weight", 1.0)) for c in criterion["mask_losses"]}
    return {"class": float(criterion["class_loss"].get("loss_weight", 1.0)),
            "no_object": float(criterion["class_loss"].get("no_object_weight", 0.1)), **mask_losses}


def criterion_config(model_cfg: dict, family: str) -> dict:
    """Loss fields of the HF config (HF defaults when the model has no criterion)."""
    if model_cfg.get("criterion") is None:
        return {}
    crit = with_defaults(CRITERIA, model_cfg["criterion"])
    if not isinstance(crit.get("matcher"), dict) or not isinstance(crit.get("class_loss"), dict):
        raise ValueError("criterion: write matcher and class_loss as configs to save the model in transformers' "
                         "format.")
    costs, losses = _costs(crit["matcher"]), _losses(crit)
    mask_type = "MaskBCE" if family == "mask2former" else "MaskFocal"
    class_cost = losses["class"] if family == "mask2former" else 1.0  # HF MaskFormer hard-codes 1
    wanted = {"ClassCost": class_cost, f"{mask_type}Cost": losses.get(f"{mask_type}Loss"),
              "DiceCost": losses.get("DiceLoss")}
    if set(losses) != {"class", "no_object", f"{mask_type}Loss", "DiceLoss"} or costs != wanted:
        raise ValueError(f"criterion: transformers' {family} loss takes {mask_type}Loss + DiceLoss with matcher "
                         f"costs equal to the loss weights ({wanted}); got costs {costs}, losses {losses}.")
    out = dict(no_object_weight=losses["no_object"], dice_weight=losses["DiceLoss"],
               mask_weight=losses[f"{mask_type}Loss"], use_auxiliary_loss=bool(crit["deep_supervision"]))
    if family == "mask2former":
        points = crit["num_points"]
        if crit["matcher"].get("num_points", 12544) != points:
            raise ValueError(f"criterion: transformers uses one train_num_points for matcher and loss, got "
                             f"{crit['matcher'].get('num_points')} and {points}.")
        out.update(class_weight=losses["class"], train_num_points=points,
                   oversample_ratio=crit["oversample_ratio"], importance_sample_ratio=crit["importance_sample_ratio"])
    else:
        out.update(cross_entropy_weight=losses["class"])
    return out


def labels(class_names: Optional[Sequence[str]], num_classes: int) -> dict:
    names = list(class_names) if class_names else [f"LABEL_{i}" for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for num_classes={num_classes}.")
    return dict(id2label={str(i): n for i, n in enumerate(names)}, label2id={n: i for i, n in enumerate(names)})


def _mask2former(model_cfg: dict) -> dict:
    pd = with_defaults(PIXEL_DECODERS, model_cfg["pixel_decoder"])
    td = with_defaults(TRANSFORMER_DECODERS, model_cfg["transformer_decoder"])
    for key, allowed in (("type", ["MSDeformAttnPixelDecoder"]), ("in_features", [STAGES]), ("norm", ["GN"]),
                         ("transformer_in_features", [STAGES[1:]]), ("num_points", [4]),
                         ("num_multi_scale_levels", [3])):
        _require("pixel_decoder", pd, key, allowed)
    for key, allowed in (("in_feature", ["multi_scale"]), ("num_feature_levels", [3]), ("mask_embed_layers", [3]),
                         ("nheads", [pd["transformer_nheads"]]), ("dropout", [pd["transformer_dropout"]])):
        _require("transformer_decoder", td, key, allowed)  # transformers shares heads and dropout
    return dict(feature_size=pd["conv_dim"], mask_feature_size=pd["mask_dim"], hidden_dim=td["hidden_dim"],
                encoder_feedforward_dim=pd["transformer_dim_feedforward"], encoder_layers=pd["transformer_enc_layers"],
                decoder_layers=td["dec_layers"] + 1, num_attention_heads=td["nheads"], dropout=td["dropout"],
                dim_feedforward=td["dim_feedforward"], pre_norm=td["pre_norm"], activation_function="relu",
                enforce_input_projection=td["enforce_input_project"], common_stride=pd["common_stride"],
                num_queries=td["num_queries"], feature_strides=[4, 8, 16, 32])


def _maskformer(model_cfg: dict) -> dict:
    pd = with_defaults(PIXEL_DECODERS, model_cfg["pixel_decoder"])
    td = with_defaults(TRANSFORMER_DECODERS, model_cfg["transformer_decoder"])
    for key, allowed in (("type", ["FPNPixelDecoder"]), ("in_features", [STAGES]), ("norm", ["GN"])):
        _require("pixel_decoder", pd, key, allowed)
    for key, allowed in (("in_feature", ["res5"]), ("pre_norm", [False]), ("mask_embed_layers", [3]),
                         ("enforce_input_project", [False])):
        _require("transformer_decoder", td, key, allowed)
    p = td["dropout"]  # ours drops out attention weights, residuals and the FFN's inside alike
    decoder = dict(model_type="detr", d_model=td["hidden_dim"], num_queries=td["num_queries"],
                   decoder_attention_heads=td["nheads"], decoder_ffn_dim=td["dim_feedforward"],
                   decoder_layers=td["dec_layers"], dropout=p, attention_dropout=p, activation_dropout=p,
                   activation_function="relu", auxiliary_loss=False)
    return dict(fpn_feature_size=pd["conv_dim"], mask_feature_size=pd["mask_dim"], decoder_config=decoder)


def family_of(model_cfg: dict) -> str:
    """``"mask2former"`` / ``"maskformer"`` from the transformer decoder's type."""
    kind = model_cfg["transformer_decoder"]["type"]
    families = {"MultiScaleMaskedTransformerDecoder": "mask2former", "StandardTransformerDecoder": "maskformer"}
    if kind not in families:
        raise ValueError(f"transformer_decoder type {kind!r}: transformers' classes take {sorted(families)}.")
    return families[kind]


def hf_config_from_model_cfg(model_cfg: dict, class_names: Optional[Sequence[str]] = None) -> dict:
    """A transformers ``config.json`` dict for the segformers ``model`` config (``ValueError`` naming the
    first option transformers cannot express)."""
    model_cfg = dict(model_cfg)
    if model_cfg.get("auxiliary_head") is not None:
        raise ValueError("model.auxiliary_head has no transformers counterpart; drop it (it only adds a training "
                         "loss) before saving in transformers' format.")
    family = family_of(model_cfg)
    parts = _mask2former(model_cfg) if family == "mask2former" else _maskformer(model_cfg)
    parts.update(criterion_config(model_cfg, family))  # deep supervision (use_auxiliary_loss) is the criterion's
    return dict(model_type=family, architectures=[ARCHITECTURE[family]],
                backbone_config=backbone_config(model_cfg, family),
                **labels(class_names, int(model_cfg["num_classes"])), **parts)
