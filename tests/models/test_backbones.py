"""ResNet / Swin backbones: shapes, freezing, norms, parameter counts, attention maths and HF parity."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from segformers.checkpoint.hf_backbones import convert_hf_backbone, hf_backbone_cfg
from segformers.models.backbones import ResNet, SwinTransformer
from segformers.models.backbones.swin import WindowAttention, shifted_window_mask
from segformers.models.layers import FrozenBatchNorm2d
from segformers.registry import BACKBONES

TINY_RESNET = dict(stem_out_channels=16, res2_out_channels=32, width_per_group=8)
TINY_SWIN = dict(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=3)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Deterministic, and one intra-op thread: tiny CPU ops on a shared 2-core box are far faster so."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def on_meta(cls: type, **kwargs) -> nn.Module:
    """Build a full-size model without allocating or initialising weights (structure/counts only)."""
    with torch.device("meta"):
        return cls(**kwargs)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def declared(m: nn.Module, field: str) -> dict:
    return {k: getattr(spec, field) for k, spec in m.output_shape().items()}


def shapes(out: dict) -> dict:
    return {k: tuple(v.shape) for k, v in out.items()}


# --- ResNet -----------------------------------------------------------------------------------
def test_resnet_bottleneck_shapes_odd_input() -> None:
    m = ResNet(depth=50, **TINY_RESNET).eval()
    out = m(torch.randn(2, 3, 97, 131))
    # stem: 97 -> 49 -> 25, 131 -> 66 -> 33; then stride 2 per stage with ceil
    assert shapes(out) == {"res2": (2, 32, 25, 33), "res3": (2, 64, 13, 17), "res4": (2, 128, 7, 9),
                           "res5": (2, 256, 4, 5)}
    assert declared(m, "channels") == {"res2": 32, "res3": 64, "res4": 128, "res5": 256}
    assert declared(m, "stride") == {"res2": 4, "res3": 8, "res4": 16, "res5": 32}
    assert m.size_divisibility == 1  # any input size works (the odd input above)
    assert tuple(m.res3[0].conv2.weight.shape) == (16, 16, 3, 3) and m.res3[0].conv2.stride == (2, 2)
    assert m.res3[0].conv1.stride == (1, 1)  # torchvision convention: stride in the 3x3


def test_resnet_state_dict_names_match_detectron2() -> None:
    keys = set(on_meta(ResNet, depth=50).state_dict())
    for k in ["stem.conv1.weight", "stem.conv1.norm.running_var", "res2.0.shortcut.weight",
              "res2.0.shortcut.norm.bias", "res5.2.conv3.norm.weight", "res4.5.conv2.weight"]:
        assert k in keys
    assert "res4.6.conv1.weight" not in keys and "res2.1.shortcut.weight" not in keys
    assert not [k for k in keys if "num_batches_tracked" in k]  # FrozenBN


def test_resnet_basic_blocks() -> None:
    m = ResNet(depth=18, stem_out_channels=16, res2_out_channels=16).eval()
    out = m(torch.randn(1, 3, 64, 96))
    assert shapes(out) == {"res2": (1, 16, 16, 24), "res3": (1, 32, 8, 12), "res4": (1, 64, 4, 6),
                           "res5": (1, 128, 2, 3)}
    assert m.res2[0].shortcut is None and m.res3[0].shortcut is not None
    assert [len(getattr(m, f"res{k}")) for k in range(2, 6)] == [2, 2, 2, 2]
    assert [len(getattr(on_meta(ResNet, depth=34), f"res{k}")) for k in range(2, 6)] == [3, 4, 6, 3]


def test_resnet_out_features_subset_builds_only_needed_stages() -> None:
    m = ResNet(depth=50, out_features=["res3"], **TINY_RESNET).eval()
    assert not hasattr(m, "res4") and not hasattr(m, "res5")
    assert shapes(m(torch.randn(1, 3, 64, 64))) == {"res3": (1, 64, 8, 8)}
    assert declared(m, "channels") == {"res3": 64} and declared(m, "stride") == {"res3": 8}


@pytest.mark.parametrize("stem_type", ["basic", "deeplab"])
def test_resnet_stem_output_is_the_stride_2_map_before_the_pool(stem_type: str) -> None:
    m = ResNet(depth=18, stem_type=stem_type, out_features=["stem", "res2"], **TINY_RESNET).eval()
    x = torch.randn(1, 3, 64, 64)
    out = m(x)
    assert shapes(out) == {"stem": (1, 16, 32, 32), "res2": (1, 32, 16, 16)}
    assert declared(m, "channels") == {"stem": 16, "res2": 32} and declared(m, "stride") == {"stem": 2, "res2": 4}
    assert torch.equal(out["stem"], m.stem.features(x))
    assert torch.equal(m.res2(torch.nn.functional.max_pool2d(out["stem"], 3, 2, 1)), out["res2"])
    only = ResNet(depth=18, out_features=["stem"], **TINY_RESNET)
    assert only.stage_names == [] and not hasattr(only, "res2")


@pytest.mark.parametrize("freeze_at", [0, 1, 2, 5])
def test_resnet_freeze_at(freeze_at: int) -> None:
    m = ResNet(depth=50, norm="BN", freeze_at=freeze_at, **TINY_RESNET)
    parts = ["stem", "res2", "res3", "res4", "res5"]
    for i, name in enumerate(parts):
        frozen = i < freeze_at
        mod = getattr(m, name)
        assert all(p.requires_grad != frozen for p in mod.parameters()), name
        n_frozen_bn = sum(isinstance(x, FrozenBatchNorm2d) for x in mod.modules())
        n_bn = sum(isinstance(x, nn.BatchNorm2d) for x in mod.modules())
        assert (n_frozen_bn > 0 and n_bn == 0) if frozen else (n_bn > 0 and n_frozen_bn == 0), name


SYNC_BN_CLASS = nn.SyncBatchNorm if torch.cuda.is_available() else nn.BatchNorm2d


@pytest.mark.parametrize("norm,cls", [("FrozenBN", FrozenBatchNorm2d), ("BN", nn.BatchNorm2d),
                                      ("SyncBN", SYNC_BN_CLASS), ("GN", nn.GroupNorm)])
def test_resnet_norm_variants(norm: str, cls: type) -> None:
    m = ResNet(depth=50, norm=norm, stem_out_channels=32, res2_out_channels=128, width_per_group=32).eval()
    assert isinstance(m.stem.conv1.norm, cls) and isinstance(m.res5[2].conv3.norm, cls)
    out = m(torch.randn(1, 3, 64, 64))
    assert out["res5"].shape == (1, 1024, 2, 2) and torch.isfinite(out["res5"]).all()
    if norm == "FrozenBN":
        assert not [n for n, _ in m.named_parameters() if "norm" in n]


@pytest.mark.skipif(torch.cuda.is_available(), reason="SyncBN stays SyncBatchNorm where CUDA is available")
def test_sync_bn_without_cuda_trains_as_batch_norm() -> None:
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="SyncBN' without CUDA"):
        sync = ResNet(depth=18, norm="SyncBN", stem_out_channels=16, res2_out_channels=16).train()
    bn = ResNet(depth=18, norm="BN", stem_out_channels=16, res2_out_channels=16).train()
    bn.load_state_dict(sync.state_dict())  # the same parameter and buffer names
    assert type(sync.res3[0].conv1.norm) is nn.BatchNorm2d
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(sync(x)["res5"], bn(x)["res5"])


def test_resnet_frozen_bn_equals_bn_in_eval() -> None:
    bn = ResNet(depth=50, norm="BN", **TINY_RESNET).eval()
    for mod in bn.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2), mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5), mod.bias.data.uniform_(-0.2, 0.2)
    frozen = ResNet(depth=50, norm="FrozenBN", **TINY_RESNET).eval()
    frozen.load_state_dict(bn.state_dict())
    x = torch.randn(2, 3, 64, 80)
    a, b = bn(x), frozen(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5 * a[k].abs().max().item(), rtol=1e-4)


def test_resnet_deeplab_stem_and_multi_grid() -> None:
    m = on_meta(ResNet, depth=101, stem_type="deeplab", res5_multi_grid=[1, 2, 4])
    assert [tuple(getattr(m.stem, f"conv{i}").weight.shape) for i in (1, 2, 3)] == [
        (64, 3, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3)]
    assert [getattr(m.stem, f"conv{i}").stride for i in (1, 2, 3)] == [(2, 2), (1, 1), (1, 1)]
    assert [b.conv2.dilation for b in m.res5] == [(1, 1), (2, 2), (4, 4)]
    assert [b.conv2.padding for b in m.res5] == [(1, 1), (2, 2), (4, 4)]
    assert m.res2[0].conv1.weight.shape[1] == 128 and len(m.res4) == 23
    small = ResNet(depth=50, stem_type="deeplab", stem_out_channels=32, res2_out_channels=32,
                   width_per_group=8, res5_multi_grid=[1, 2, 4]).eval()
    assert shapes(small(torch.randn(1, 3, 64, 64)))["res5"] == (1, 256, 2, 2)


def test_resnet_res5_dilation_keeps_resolution() -> None:
    m = ResNet(depth=50, res5_dilation=2, **TINY_RESNET).eval()
    assert declared(m, "stride")["res5"] == 16
    assert shapes(m(torch.randn(1, 3, 64, 64)))["res5"] == (1, 256, 4, 4)


def test_resnet_groups_and_stride_in_1x1() -> None:
    m = ResNet(depth=50, num_groups=2, stride_in_1x1=True, **TINY_RESNET).eval()
    conv = m.res3[0].conv2
    assert conv.groups == 2 and tuple(conv.weight.shape) == (32, 16, 3, 3)  # bottleneck 2*8*2 = 32
    assert m.res3[0].conv1.stride == (2, 2) and conv.stride == (1, 1)
    assert shapes(m(torch.randn(1, 3, 64, 64)))["res5"] == (1, 256, 2, 2)


def test_resnet_channels_last_same_values_and_gradients_nhwc() -> None:
    kw = dict(depth=18, norm="BN", stem_type="deeplab", **TINY_RESNET)
    ref, nhwc = ResNet(**kw), ResNet(**kw, channels_last=True)
    nhwc.load_state_dict(ref.state_dict())
    assert nhwc.res3[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not ref.res3[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 48, 64)
    a, b = ref(x), nhwc(x)
    for k in a:
        assert b[k].is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(b[k], a[k], atol=1e-5 * a[k].abs().max().item(), rtol=1e-4)
    sum((v * v).sum() for v in a.values()).backward()
    sum((v * v).sum() for v in b.values()).backward()
    g_ref, g_nhwc = ref.res2[0].conv2.weight.grad, nhwc.res2[0].conv2.weight.grad
    torch.testing.assert_close(g_nhwc, g_ref, atol=1e-4 * g_ref.abs().max().item(), rtol=1e-4)


def test_resnet_own_autocast_returns_float32_close_to_fp32() -> None:
    kw = dict(depth=18, norm="BN", **TINY_RESNET)
    ref, amp = ResNet(**kw).eval(), ResNet(**kw, autocast_dtype="bfloat16", channels_last=True).eval()
    amp.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 64, 64)
    a, b = ref(x), amp(x)
    for k in a:
        assert b[k].dtype == torch.float32
        err = (b[k] - a[k]).abs().max().item() / a[k].abs().max().item()
        assert 1e-6 < err < 0.05, (k, err)  # bf16 rounding: not fp32, not far off
    with torch.autocast("cpu", dtype=torch.bfloat16):  # an outer autocast: still float32 out
        assert all(v.dtype == torch.float32 for v in amp(x).values())
    with pytest.raises(ValueError, match="autocast_dtype"):
        ResNet(**kw, autocast_dtype="float64")


@pytest.mark.parametrize("native", [True, False])
def test_resnet_auto_autocast_is_bf16_only_where_native(native, monkeypatch) -> None:
    from segformers.models.backbones import resnet

    monkeypatch.setattr(resnet, "bf16_is_native", lambda device_type="cpu": native)
    kw = dict(depth=18, norm="BN", **TINY_RESNET)
    ref, auto = ResNet(**kw).eval(), ResNet(**kw, autocast_dtype="auto").eval()
    auto.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 64, 64)
    seen = []
    first_conv = next(m for m in auto.modules() if isinstance(m, nn.Conv2d))
    first_conv.register_forward_hook(lambda m, i, o: seen.append(torch.is_autocast_enabled("cpu")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the emulated-bf16 speed warning (native=True on a CPU without bf16)
        a, b = ref(x), auto(x)
    assert seen == [native]
    for k in a:
        err = (b[k] - a[k]).abs().max().item()
        assert (err > 0) if native else (err == 0), (k, err)  # bf16 rounding only where it is native


def _bottleneck_resnet_conv_params(blocks: list[int]) -> int:
    """Conv weights of torchvision's bottleneck ResNet (no fc, no BN), from the layer shapes."""
    total, cin = 3 * 64 * 7 * 7, 64
    for i, n in enumerate(blocks):
        width, cout = 64 * 2**i, 256 * 2**i
        for j in range(n):
            c = cin if j == 0 else cout
            total += c * width + width * width * 9 + width * cout + (c * cout if j == 0 else 0)
        cin = cout
    return total


def test_resnet_parameter_counts() -> None:
    r50, r101 = n_params(on_meta(ResNet, depth=50)), n_params(on_meta(ResNet, depth=101))
    assert r50 == _bottleneck_resnet_conv_params([3, 4, 6, 3]) == 23_454_912
    assert r101 == _bottleneck_resnet_conv_params([3, 4, 23, 3])
    assert r101 - r50 == 17 * (1024 * 256 + 256 * 256 * 9 + 256 * 1024)  # 17 more res4 blocks


@pytest.mark.parametrize("kwargs,match", [
    (dict(depth=42), "depth"), (dict(out_features=["res6"]), "out_features"),
    (dict(stem_type="fancy"), "stem_type"), (dict(depth=18, res5_dilation=2), "ResNet-18/34"),
    (dict(res5_multi_grid=[1, 2]), "multi_grid"), (dict(freeze_at=7), "freeze_at"),
])
def test_resnet_bad_args(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        on_meta(ResNet, **kwargs)


def test_backbones_are_registered() -> None:
    m = BACKBONES.build(dict(type="ResNet", depth=18, stem_out_channels=8, res2_out_channels=8))
    assert isinstance(m, ResNet)
    assert isinstance(BACKBONES.build(dict(type="SwinTransformer", **TINY_SWIN)), SwinTransformer)
    with pytest.raises(ValueError, match="images"):
        m(torch.randn(3, 64, 64))


# --- Swin -------------------------------------------------------------------------------------
def test_swin_shapes_odd_input() -> None:
    m = SwinTransformer(**TINY_SWIN).eval()
    out = m(torch.randn(2, 3, 97, 131))  # patch grid 25x33 -> 13x17 -> 7x9 -> 4x5
    assert shapes(out) == {"res2": (2, 16, 25, 33), "res3": (2, 32, 13, 17), "res4": (2, 64, 7, 9),
                           "res5": (2, 128, 4, 5)}
    assert declared(m, "channels") == {"res2": 16, "res3": 32, "res4": 64, "res5": 128}
    assert declared(m, "stride") == {"res2": 4, "res3": 8, "res4": 16, "res5": 32} and m.size_divisibility == 1
    sub = SwinTransformer(out_features=["res3", "res5"], **TINY_SWIN).eval()
    assert list(sub(torch.randn(1, 3, 40, 56))) == ["res3", "res5"]
    assert hasattr(sub, "norm0") and declared(sub, "channels") == {"res3": 32, "res5": 128}


def test_swin_state_dict_names() -> None:
    keys = set(SwinTransformer(**TINY_SWIN).state_dict())
    for k in ["patch_embed.proj.weight", "patch_embed.norm.bias", "layers.0.blocks.1.norm1.weight",
              "layers.0.blocks.1.attn.qkv.weight", "layers.0.blocks.1.attn.proj.bias",
              "layers.2.blocks.0.attn.relative_position_bias_table",
              "layers.2.blocks.0.attn.relative_position_index", "layers.1.blocks.0.mlp.fc2.weight",
              "layers.2.downsample.reduction.weight", "layers.2.downsample.norm.weight", "norm3.bias"]:
        assert k in keys
    assert not [k for k in keys if k.startswith("layers.3.downsample")]


def _swin_params(embed: int, depths: list[int], heads: list[int], ws: int) -> int:
    """Parameter count of the official D2 Swin backbone, from the layer shapes."""
    total = 3 * embed * 16 + embed + 2 * embed  # patch proj + patch norm
    for i in range(4):
        d = embed * 2**i
        block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (2 * ws - 1) ** 2 * heads[i] + 2 * d \
            + (d * 4 * d + 4 * d) + (4 * d * d + d)
        total += depths[i] * block + 2 * d  # blocks + output norm{i}
        if i < 3:
            total += 4 * d * 2 * d + 2 * 4 * d  # patch merging
    return total


def test_swin_tiny_parameter_count() -> None:
    m = on_meta(SwinTransformer, embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7)
    assert n_params(m) == _swin_params(96, [2, 2, 6, 2], [3, 6, 12, 24], 7)
    assert 27.4e6 < n_params(m) < 27.6e6  # official.md §3.9: Swin-T ~ 27.5M
    assert _swin_params(128, [2, 2, 18, 2], [4, 8, 16, 32], 12) == pytest.approx(87.0e6, rel=0.01)


def test_swin_drop_path_linear_and_training_step() -> None:
    m = SwinTransformer(drop_path_rate=0.3, **TINY_SWIN).train()
    rates = [b.drop_path for s in m.layers for b in s.blocks]
    assert rates == pytest.approx(torch.linspace(0, 0.3, 8).tolist())
    out = m(torch.randn(2, 3, 64, 64))
    sum(v.sum() for v in out.values()).backward()
    assert m.layers[0].blocks[0].attn.relative_position_bias_table.grad.abs().sum() > 0


def test_swin_frozen_stages() -> None:
    m = SwinTransformer(frozen_stages=3, **TINY_SWIN)
    m.train()
    assert not any(p.requires_grad for p in m.patch_embed.parameters())
    assert not any(p.requires_grad for s in m.layers[:2] for p in s.parameters())
    assert all(p.requires_grad for s in m.layers[2:] for p in s.parameters())
    assert not m.layers[1].training and m.layers[2].training
    m1 = SwinTransformer(frozen_stages=0, **TINY_SWIN)
    assert not any(p.requires_grad for p in m1.patch_embed.parameters())
    assert all(p.requires_grad for p in m1.layers.parameters())


def _reference_shift_mask(hp: int, wp: int, ws: int, shift: int) -> torch.Tensor:
    """The official slice-based construction (loops over the 3x3 regions only)."""
    img = torch.zeros(hp, wp)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for i, hs in enumerate(cuts):
        for j, wsl in enumerate(cuts):
            img[hs, wsl] = i * 3 + j
    win = img.view(hp // ws, ws, wp // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


@pytest.mark.parametrize("hp,wp,ws", [(14, 21, 7), (7, 7, 7), (6, 9, 3)])
def test_shifted_window_mask_matches_official(hp: int, wp: int, ws: int) -> None:
    mask = shifted_window_mask(hp, wp, ws, ws // 2, torch.device("cpu"))
    assert torch.equal(mask, _reference_shift_mask(hp, wp, ws, ws // 2))


def test_window_attention_matches_explicit_softmax() -> None:
    attn = WindowAttention(dim=8, num_heads=2, window_size=3).eval()
    nn.init.normal_(attn.relative_position_bias_table, std=0.5)
    x = torch.randn(2, 4, 9, 8)
    mask = shifted_window_mask(6, 6, 3, 1, torch.device("cpu"))
    for m in (None, mask):
        qkv = attn.qkv(x).view(2, 4, 9, 3, 2, 4).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv[0] * 4 ** -0.5, qkv[1], qkv[2]
        logits = q @ k.transpose(-2, -1) + attn.relative_bias()
        if m is not None:
            logits = logits + m[None, :, None]
        ref = (logits.softmax(-1) @ v).permute(0, 1, 3, 2, 4).reshape(2, 4, 9, 8)
        torch.testing.assert_close(attn(x, m), attn.proj(ref), atol=1e-6, rtol=1e-5)


def test_swin_shift_mask_is_cached() -> None:
    m = SwinTransformer(**TINY_SWIN).eval()
    stage = m.layers[0]
    a = stage.shift_mask(25, 33, torch.device("cpu"))
    assert a is stage.shift_mask(27, 31, torch.device("cpu"))  # same padded size 27x33
    assert a.shape == (9 * 11, 9, 9)


# --- Hugging Face parity -----------------------------------------------------------------------
HF_PREFIX = "model.pixel_level_module.encoder"
ALL_STAGES = ["stage1", "stage2", "stage3", "stage4"]


@pytest.fixture()
def hf():
    """The HF test helpers (skips when ``transformers`` is not installed)."""
    pytest.importorskip("transformers")
    from tests import hf_utils

    return hf_utils


def _m2f(backbone_config):  # noqa: ANN001, ANN202
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation

    return Mask2FormerForUniversalSegmentation(Mask2FormerConfig(
        backbone_config=backbone_config, num_labels=3, hidden_dim=32, feature_size=32, mask_feature_size=32,
        encoder_layers=1, decoder_layers=2, num_queries=5, dim_feedforward=32, encoder_feedforward_dim=32))


def _mf(backbone_config):  # noqa: ANN001, ANN202
    from transformers import MaskFormerConfig, MaskFormerForInstanceSegmentation

    detr = dict(model_type="detr", decoder_layers=1, encoder_layers=1, d_model=32, decoder_ffn_dim=32,
                encoder_ffn_dim=32, num_queries=5)
    return MaskFormerForInstanceSegmentation(MaskFormerConfig(
        backbone_config=backbone_config, num_labels=3, fpn_feature_size=32, mask_feature_size=32,
        decoder_config=detr))


def _randomize(hf, model: nn.Module) -> nn.Module:  # noqa: ANN001
    """``randomize_`` plus norm weights around 1 (HF norm names do not end in ``norm.weight``)."""
    hf.randomize_(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
                mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=g))
    return model.eval()


def _check_parity(hf, model: nn.Module, expected_type: str,  # noqa: ANN001
                  size: tuple[int, int] = (96, 160)) -> dict:
    """Convert the saved HF model, load it strictly into our backbone and compare every level.

    Tolerance: 1e-5 absolute on maps of unit scale (scaled by the map's largest magnitude when that
    exceeds 1: FrozenBN's ``x * scale + shift`` rounds differently from BatchNorm in float32). ResNets
    are also rebuilt with ``norm="BN"``, which must agree to float32 exactness.
    """
    _randomize(hf, model)
    state, config = hf.hf_saved_state_dict(model)
    cfg = hf_backbone_cfg(config)
    assert cfg["type"] == expected_type
    converted = convert_hf_backbone(state, config, HF_PREFIX)
    assert not [k for k in state if k.startswith(HF_PREFIX + ".")]  # every backbone key was consumed
    assert any(k.startswith("model.pixel_level_module.decoder.") for k in state)  # the rest is untouched
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        ref = model.model.pixel_level_module.encoder(x).feature_maps  # what the pixel decoder receives
    variants = [(cfg, 1e-5)] + ([(dict(cfg, norm="BN"), 1e-6)] if expected_type == "ResNet" else [])
    for variant, tol in variants:
        ours = BACKBONES.build(variant).eval()
        ours.load_state_dict(converted, strict=True)
        with torch.no_grad():
            out = ours(x)
        assert list(out) == ["res2", "res3", "res4", "res5"] and len(ref) == 4
        for i, name in enumerate(out):
            assert out[name].shape == ref[i].shape
            assert out[name].shape[-2:] == tuple(-(-n // 2 ** (i + 2)) for n in size)
            assert ref[i].std() > 0.05  # a meaningful comparison, not of near-zero maps
            scale = max(1.0, ref[i].abs().max().item())
            torch.testing.assert_close(out[name], ref[i], atol=tol * scale, rtol=0)
    return cfg


def test_hf_parity_mask2former_swin(hf) -> None:  # noqa: ANN001
    from transformers import SwinConfig

    bc = SwinConfig(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=7,
                    out_features=ALL_STAGES)
    cfg = _check_parity(hf, _m2f(bc), "SwinTransformer")
    assert cfg["window_size"] == 7 and cfg["embed_dim"] == 16 and cfg["depths"] == [2, 2, 2, 2]


def test_hf_parity_maskformer_swin(hf) -> None:  # noqa: ANN001
    from transformers import MaskFormerSwinConfig

    bc = MaskFormerSwinConfig(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=3,
                              out_features=ALL_STAGES)
    cfg = _check_parity(hf, _mf(bc), "SwinTransformer", size=(97, 131))  # odd: padded inside
    assert cfg["window_size"] == 3


@pytest.mark.parametrize("builder,layer_type,depths,in_bottleneck", [
    ("m2f", "bottleneck", [1, 2, 1, 1], False),
    ("mf", "bottleneck", [1, 1, 2, 1], True),
    ("mf", "basic", [1, 2, 1, 1], False),
])
def test_hf_parity_resnet(hf, builder: str, layer_type: str, depths: list,  # noqa: ANN001
                          in_bottleneck: bool) -> None:
    from transformers import ResNetConfig

    sizes = [32, 64, 128, 256] if layer_type == "bottleneck" else [16, 32, 64, 128]
    bc = ResNetConfig(embedding_size=16, hidden_sizes=sizes, depths=depths, layer_type=layer_type,
                      downsample_in_bottleneck=in_bottleneck, out_features=ALL_STAGES)
    cfg = _check_parity(hf, (_m2f if builder == "m2f" else _mf)(bc), "ResNet")
    assert cfg["num_blocks_per_stage"] == depths and cfg["norm"] == "FrozenBN"
    assert cfg["stride_in_1x1"] is in_bottleneck
    assert cfg["depth"] == (50 if layer_type == "bottleneck" else 18)


def test_hf_runtime_and_saved_swin_names_convert_alike(hf) -> None:  # noqa: ANN001
    from transformers import SwinConfig

    model = _randomize(hf, _m2f(SwinConfig(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
                                           window_size=3, out_features=["stage2", "stage3", "stage4"])))
    saved, config = hf.hf_saved_state_dict(model)
    a = convert_hf_backbone(saved, config, HF_PREFIX)
    b = convert_hf_backbone(dict(model.state_dict()), config, HF_PREFIX)
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    q = model.model.pixel_level_module.encoder.swin.encoder.layers[2].blocks[1].attention
    packed = torch.cat([q.q_proj.weight, q.k_proj.weight, q.v_proj.weight])
    assert torch.equal(a["layers.2.blocks.1.attn.qkv.weight"], packed)
    assert torch.equal(a["norm0.weight"], torch.ones(16))  # stage1 not an HF output: identity norm
    assert hf_backbone_cfg(config)["out_features"] == ["res3", "res4", "res5"]


def test_hf_backbone_cfg_standard_models(hf) -> None:  # noqa: ANN001
    from transformers import Mask2FormerConfig, ResNetConfig

    r101 = Mask2FormerConfig(backbone_config=ResNetConfig(depths=[3, 4, 23, 3], out_features=ALL_STAGES))
    cfg = hf_backbone_cfg(r101.to_dict())
    assert cfg == dict(type="ResNet", norm="FrozenBN", freeze_at=0, stem_type="basic", stem_out_channels=64,
                       res2_out_channels=256, width_per_group=64, num_groups=1, stride_in_1x1=False,
                       res5_dilation=1, out_features=["res2", "res3", "res4", "res5"], depth=101)
    swin_b = hf_backbone_cfg(Mask2FormerConfig().to_dict())  # HF default: Swin with depths 2,2,18,2
    assert swin_b["depths"] == [2, 2, 18, 2] and swin_b["drop_path_rate"] == pytest.approx(0.3)
    swin = on_meta(SwinTransformer, **{k: v for k, v in swin_b.items() if k != "type"})
    assert declared(swin, "channels")["res5"] == 768


@pytest.mark.parametrize("backbone,match", [
    (dict(model_type="resnet", hidden_sizes=[32, 48, 96, 192], depths=[1, 1, 1, 1]), "double"),
    (dict(model_type="resnet", hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1],
          downsample_in_first_stage=True), "downsample_in_first_stage"),
    (dict(model_type="swin", embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 1, 1, 1], window_size=7,
          use_absolute_embeddings=True), "absolute"),
    (dict(model_type="timm_backbone"), "timm"),
])
def test_hf_backbone_cfg_rejects_unsupported(backbone: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hf_backbone_cfg({"model_type": "mask2former", "backbone_config": backbone})


def test_convert_hf_backbone_bad_input_leaves_state_untouched() -> None:
    config = {"backbone_config": dict(model_type="resnet", hidden_sizes=[32, 64, 128, 256], depths=[1] * 4)}
    state = {"enc.embedder.embedder.convolution.weight": torch.zeros(1), "enc.mystery.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match="not understood"):
        convert_hf_backbone(state, config, "enc")
    assert len(state) == 2
    with pytest.raises(KeyError, match="no key"):
        convert_hf_backbone(state, config, "backbone")
    del state["enc.mystery.weight"]
    state["enc.embedder.embedder.normalization.num_batches_tracked"] = torch.tensor(3)
    assert list(convert_hf_backbone(state, config, "enc")) == ["stem.conv1.weight"] and not state
