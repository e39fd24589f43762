"""End-to-end parity with Hugging Face: save_pretrained -> tools/convert_checkpoint.py hf -> init_model.

HF models are built from configs with random weights (HF's own init, then randomized norm statistics
and affine terms so no norm is an identity), saved, converted with the command-line tool, and run on
a batch of 2 non-square images whose ``pixel_mask`` marks padding. Final and auxiliary logits must
agree to atol 1e-4 wherever the official code and HF define them alike (see docs/hf_differences.md).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from segformers.apis import forward_logits, init_model

transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("convert_checkpoint", ROOT / "tools" / "convert_checkpoint.py")
convert_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert_tool)

ATOL = 1e-4


def small_swin(**kw):  # noqa: ANN003, ANN201
    args = dict(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], window_size=4,
                out_features=["stage1", "stage2", "stage3", "stage4"])
    args.update(kw)
    return transformers.SwinConfig(**args)


def small_resnet():  # noqa: ANN201
    return transformers.ResNetConfig(embedding_size=16, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 2, 1],
                                     layer_type="bottleneck", out_features=["stage1", "stage2", "stage3", "stage4"])


def mask2former(backbone, full: bool = False) -> nn.Module:  # noqa: ANN001
    if full:  # the real defaults: hidden 256, 100 queries, 10 predictions (9 layers), 6 encoder layers
        cfg = transformers.Mask2FormerConfig(backbone_config=backbone, num_labels=7)
    else:
        cfg = transformers.Mask2FormerConfig(
            backbone_config=backbone, num_labels=5, hidden_dim=32, feature_size=32, mask_feature_size=32,
            num_queries=6, encoder_layers=2, decoder_layers=4, dim_feedforward=64, encoder_feedforward_dim=48,
            num_attention_heads=4)
    return transformers.Mask2FormerForUniversalSegmentation(cfg)


def maskformer(backbone, full: bool = False) -> nn.Module:  # noqa: ANN001
    if full:  # hidden 256, 100 queries, 6 DETR decoder layers
        detr = dict(model_type="detr", encoder_layers=1)
        cfg = transformers.MaskFormerConfig(backbone_config=backbone, num_labels=7, decoder_config=detr,
                                            use_auxiliary_loss=True)
    else:
        detr = dict(model_type="detr", d_model=32, decoder_layers=3, decoder_attention_heads=4, decoder_ffn_dim=64,
                    encoder_layers=1, encoder_ffn_dim=32, num_queries=6)
        cfg = transformers.MaskFormerConfig(backbone_config=backbone, num_labels=5, fpn_feature_size=32,
                                            mask_feature_size=32, decoder_config=detr, use_auxiliary_loss=True)
    return transformers.MaskFormerForInstanceSegmentation(cfg)


def randomize_norms_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random affine terms / statistics for every norm layer (HF inits them to identities)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval()


def batch(h: int = 96, w: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Two images padded to ``h x w``: the second one is valid on its top-left 80 x 100 only."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, h, w, generator=g)
    mask = torch.ones(2, h, w, dtype=torch.int64)
    mask[1, 80:], mask[1, :, 100:] = 0, 0
    x[1, :, 80:], x[1, :, :, 100:] = 0, 0
    return x, mask


def convert_and_load(hf_model: nn.Module, tmp_path: Path) -> nn.Module:
    hf_dir, out_dir = tmp_path / "hf", tmp_path / "ours"
    hf_model.save_pretrained(hf_dir)
    convert_tool.main(["hf", str(hf_dir), str(out_dir)])
    state = torch.load(out_dir / "model.pth", weights_only=True)  # plain tensors only
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    return init_model(out_dir / "config.py", out_dir / "model.pth")


def compare(hf_model: nn.Module, tmp_path: Path, aux_pairs="all", size=(96, 128),  # noqa: ANN001
            dtype: torch.dtype = torch.float32) -> int:
    """Run both models; return how many prediction sets were compared.

    ``dtype=torch.float64`` is used for full-size Mask2Former: its attention masks threshold
    sigmoid(logit) at 0.5, so a float32 rounding difference on a logit within ~1e-6 of 0 flips a mask
    bit and legitimately changes later layers; in float64 both agree to ~1e-8 everywhere.
    """
    randomize_norms_(hf_model)
    ours = convert_and_load(hf_model, tmp_path).to(dtype)
    hf_model.to(dtype)
    x, mask = batch(*size)
    x = x.to(dtype)
    with torch.no_grad():
        ref = hf_model(pixel_values=x, pixel_mask=mask, output_auxiliary_logits=True, output_hidden_states=True)
        out = forward_logits(ours, x, mask)
    pairs = [(out.class_queries_logits, ref.class_queries_logits, out.masks_queries_logits, ref.masks_queries_logits)]
    ref_aux = ref.auxiliary_logits or []
    if aux_pairs == "all":
        assert len(out.auxiliary_logits) == len(ref_aux) > 0
        aux = list(zip(out.auxiliary_logits, ref_aux))
    else:
        aux = aux_pairs(out.auxiliary_logits, ref_aux)
    pairs += [(a["class_queries_logits"], b["class_queries_logits"], a["masks_queries_logits"],
               b["masks_queries_logits"]) for a, b in aux]
    for cls, cls_ref, masks, masks_ref in pairs:
        assert cls.shape == cls_ref.shape and masks.shape == masks_ref.shape
        assert masks.shape[-2:] == (size[0] // 4, size[1] // 4)
        assert cls_ref.std() > 1e-2 and masks_ref.std() > 1e-2  # non-degenerate outputs
        torch.testing.assert_close(cls, cls_ref, atol=ATOL, rtol=0)
        torch.testing.assert_close(masks, masks_ref, atol=ATOL, rtol=0)
    return len(pairs)


@pytest.mark.parametrize("backbone", ["swin", "resnet"])
def test_mask2former_parity(backbone, tmp_path):
    torch.manual_seed(0)
    model = mask2former(small_swin() if backbone == "swin" else small_resnet())
    assert compare(model, tmp_path) == 4  # final + 3 auxiliary (decoder_layers=4 -> 3 layers + queries)


def test_mask2former_parity_real_defaults(tmp_path):
    torch.manual_seed(0)
    model = mask2former(small_swin(embed_dim=32, num_heads=[1, 2, 4, 4], window_size=7), full=True)
    assert model.config.hidden_dim == 256 and model.config.num_queries == 100 and model.config.decoder_layers == 10
    assert compare(model, tmp_path, size=(64, 96), dtype=torch.float64) == 10


def maskformer_aux(ours: list, ref: list) -> list:
    """HF MaskFormer's auxiliary outputs are not the official ones: it adds a prediction from the
    all-zero query input and skips the decoder's final LayerNorm on intermediate layers (official:
    L-1 auxiliary predictions, all LayerNorm'd). Only the final prediction is defined alike."""
    assert len(ref) == len(ours) + 1
    return []


@pytest.mark.parametrize("backbone", ["swin", "resnet"])
def test_maskformer_parity(backbone, tmp_path):
    torch.manual_seed(0)
    model = maskformer(small_swin() if backbone == "swin" else small_resnet())
    assert compare(model, tmp_path, aux_pairs=maskformer_aux) == 1


def test_maskformer_parity_real_defaults(tmp_path):
    torch.manual_seed(0)
    model = maskformer(small_swin(embed_dim=32, num_heads=[1, 2, 4, 4], window_size=7), full=True)
    detr = model.config.decoder_config
    assert detr.d_model == 256 and detr.num_queries == 100 and detr.decoder_layers == 6
    assert compare(model, tmp_path, aux_pairs=maskformer_aux, size=(64, 96)) == 1
