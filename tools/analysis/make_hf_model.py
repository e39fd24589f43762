"""Write a randomly initialised, full-size Hugging Face MaskFormer / Mask2Former (reference for benchmarks).

Usage: python tools/analysis/make_hf_model.py {mask2former-r50,maskformer-r50,mask2former-swin-t,mask2former-tiny} OUT_DIR

The architectures are the official ones (COCO panoptic, 133 classes, for Mask2Former; ADE20K,
150 classes, for MaskFormer), and ``mask2former-tiny``: the quick-start issue's reference scale (3.5M
parameters: ResNet of one basic block per stage, 32-256 channels; hidden 128, 2 encoder and 6 decoder
layers, 30 queries, 2048 points, 8 classes). Needs ``transformers`` (a test requirement).
"""
from __future__ import annotations

import argparse

import torch

STAGES = ["stage1", "stage2", "stage3", "stage4"]


def _r50():  # noqa: ANN202
    import transformers as tf

    return tf.ResNetConfig(embedding_size=64, hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 6, 3],
                           layer_type="bottleneck", out_features=STAGES)


def _mask2former_r50():  # noqa: ANN202
    import transformers as tf

    return tf.Mask2FormerForUniversalSegmentation(tf.Mask2FormerConfig(backbone_config=_r50(), num_labels=133))


def _maskformer_r50():  # noqa: ANN202
    import transformers as tf

    return tf.MaskFormerForInstanceSegmentation(tf.MaskFormerConfig(backbone_config=_r50(), num_labels=150))


def _mask2former_swin_t():  # noqa: ANN202
    import transformers as tf

    swin_t = tf.SwinConfig(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7,
                           drop_path_rate=0.3, out_features=STAGES)
    return tf.Mask2FormerForUniversalSegmentation(tf.Mask2FormerConfig(backbone_config=swin_t, num_labels=133))


def _mask2former_tiny():  # noqa: ANN202
    import transformers as tf

    tiny = tf.ResNetConfig(embedding_size=32, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1],
                           layer_type="basic", out_features=STAGES)
    return tf.Mask2FormerForUniversalSegmentation(tf.Mask2FormerConfig(
        backbone_config=tiny, num_labels=8, hidden_dim=128, feature_size=128, mask_feature_size=128,
        encoder_layers=2, decoder_layers=7, num_queries=30, train_num_points=2048,
        encoder_feedforward_dim=512, dim_feedforward=512, num_attention_heads=4,
    ))


BUILDERS = {
    "mask2former-r50": _mask2former_r50,
    "maskformer-r50": _maskformer_r50,
    "mask2former-swin-t": _mask2former_swin_t,
    "mask2former-tiny": _mask2former_tiny,
}


def build(name: str):  # noqa: ANN201
    """The randomly initialised ``transformers`` model called ``name`` (a key of ``BUILDERS``)."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model '{name}'; choose one of {sorted(BUILDERS)}")
    return BUILDERS[name]()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=BUILDERS)
    p.add_argument("out_dir")
    args = p.parse_args()
    torch.manual_seed(0)
    model = build(args.name)
    model.save_pretrained(args.out_dir)
    print(f"wrote {args.out_dir} ({sum(p.numel() for p in model.parameters()):,} parameters)")


if __name__ == "__main__":
    main()
