"""Official detectron2 ``model_final_*.pkl`` import: tools/convert_checkpoint.py official.

The fixture files are written from an independent key table: the patterns of official.md §4.2-§4.3 spelled
out below with loops, shapes from a small model (ResNet widths 16..256 / Swin embed 16, hidden 32, 6 queries,
5 classes), numpy values, pickled as ``{"model": ..., "__author__": ...}``. The expected segformers name of
each key is the documented rule (drop ``sem_seg_head.``, ``predictor`` -> ``transformer_decoder``,
``static_query`` -> ``query_feat``, legacy MaskFormer head keys -> ``pixel_decoder``), not the converter.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from segformers.apis import forward_logits, init_model
from segformers.apis import load_config

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("convert_checkpoint", ROOT / "tools" / "convert_checkpoint.py")
convert_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert_tool)

D, Q, K, FF = 32, 6, 5, 64  # hidden / conv / mask dim, queries, classes, FFN width
NORM_STATS = ("weight", "bias", "running_mean", "running_var")
SWIN_EMBED, SWIN_DEPTHS, SWIN_HEADS, SWIN_WS = 16, (1, 1, 2, 1), (1, 2, 2, 4), 4
STATIC_QUERY = np.arange(Q * D, dtype=np.float32).reshape(Q, D) / 1000.0 + 7.25


# --- the official key table (official.md §4.3) -------------------------------------------------------

def resnet_table(blocks=(1, 1, 2, 1), stem=16, out=32, width=8) -> dict[str, tuple]:
    """``backbone.stem.conv1.*`` and ``backbone.res{2..5}.{j}.{conv1,conv2,conv3,shortcut}.{weight,norm.*}``."""
    t: dict[str, tuple] = {}

    def conv(name: str, cout: int, cin: int, k: int) -> None:
        t[f"backbone.{name}.weight"] = (cout, cin, k, k)
        for s in NORM_STATS:
            t[f"backbone.{name}.norm.{s}"] = (cout,)

    conv("stem.conv1", stem, 3, 7)
    cin = stem
    for s, n in enumerate(blocks):
        cout, w = out * 2**s, width * 2**s
        for j in range(n):
            if j == 0:
                conv(f"res{s + 2}.0.shortcut", cout, cin, 1)
            conv(f"res{s + 2}.{j}.conv1", w, cin if j == 0 else cout, 1)
            conv(f"res{s + 2}.{j}.conv2", w, w, 3)
            conv(f"res{s + 2}.{j}.conv3", cout, w, 1)
        cin = cout
    return t


def swin_table(with_output_norms: bool = True) -> dict[str, tuple]:
    """``backbone.patch_embed.*``, ``backbone.layers.{s}.blocks.{b}.*``, ``downsample``, ``norm{0..3}``."""
    c, rows = SWIN_EMBED, (2 * SWIN_WS - 1) ** 2
    t = {"backbone.patch_embed.proj.weight": (c, 3, 4, 4), "backbone.patch_embed.proj.bias": (c,),
         "backbone.patch_embed.norm.weight": (c,), "backbone.patch_embed.norm.bias": (c,)}
    for s, (depth, heads) in enumerate(zip(SWIN_DEPTHS, SWIN_HEADS)):
        dim = c * 2**s
        for b in range(depth):
            p = f"backbone.layers.{s}.blocks.{b}."
            for name, shape in (("norm1", (dim,)), ("norm2", (dim,)), ("attn.proj", (dim, dim)),
                                ("attn.qkv", (3 * dim, dim)), ("mlp.fc1", (4 * dim, dim)), ("mlp.fc2", (dim, 4 * dim))):
                t[p + name + ".weight"] = shape
                t[p + name + ".bias"] = (shape[0],)
            t[p + "attn.relative_position_bias_table"] = (rows, heads)
            t[p + "attn.relative_position_index"] = (SWIN_WS**2, SWIN_WS**2)
        if s < 3:
            t[f"backbone.layers.{s}.downsample.reduction.weight"] = (2 * dim, 4 * dim)
            t[f"backbone.layers.{s}.downsample.norm.weight"] = (4 * dim,)
            t[f"backbone.layers.{s}.downsample.norm.bias"] = (4 * dim,)
        if with_output_norms:
            t[f"backbone.norm{s}.weight"] = t[f"backbone.norm{s}.bias"] = (dim,)
    return t


def linear(t: dict, name: str, cout: int, cin: int) -> None:
    t[name + ".weight"], t[name + ".bias"] = (cout, cin), (cout,)


def norm(t: dict, name: str) -> None:
    t[name + ".weight"] = t[name + ".bias"] = (D,)


def mha(t: dict, name: str) -> None:
    t[name + ".in_proj_weight"], t[name + ".in_proj_bias"] = (3 * D, D), (3 * D,)
    linear(t, name + ".out_proj", D, D)


def gn_conv(t: dict, name: str, cin: int, k: int) -> None:
    t[name + ".weight"], t[name + ".norm.weight"], t[name + ".norm.bias"] = (D, cin, k, k), (D,), (D,)


def msdeform_pixel_decoder_table(c: list[int], layers: int = 2, heads: int = 4) -> dict[str, tuple]:
    """``sem_seg_head.pixel_decoder.*`` of MSDeformAttnPixelDecoder; ``c`` = channels of res2..res5."""
    p, t = "sem_seg_head.pixel_decoder.", {}
    for i, cin in enumerate((c[3], c[2], c[1])):  # input_proj 0 = res5, 1 = res4, 2 = res3
        t[f"{p}input_proj.{i}.0.weight"], t[f"{p}input_proj.{i}.0.bias"] = (D, cin, 1, 1), (D,)
        t[f"{p}input_proj.{i}.1.weight"] = t[f"{p}input_proj.{i}.1.bias"] = (D,)
    t[p + "transformer.level_embed"] = (3, D)
    for n in range(layers):
        e = f"{p}transformer.encoder.layers.{n}."
        linear(t, e + "self_attn.sampling_offsets", heads * 3 * 4 * 2, D)
        linear(t, e + "self_attn.attention_weights", heads * 3 * 4, D)
        linear(t, e + "self_attn.value_proj", D, D)
        linear(t, e + "self_attn.output_proj", D, D)
        linear(t, e + "linear1", FF, D)
        linear(t, e + "linear2", D, FF)
        norm(t, e + "norm1")
        norm(t, e + "norm2")
    gn_conv(t, p + "adapter_1", c[0], 1)
    gn_conv(t, p + "layer_1", D, 3)
    t[p + "mask_features.weight"], t[p + "mask_features.bias"] = (D, D, 1, 1), (D,)
    return t


def fpn_pixel_decoder_table(c: list[int], p: str, encoder_layers: int = 0) -> dict[str, tuple]:
    """BasePixelDecoder under prefix ``p`` (legacy ``sem_seg_head.`` or ``sem_seg_head.pixel_decoder.``);
    with ``encoder_layers`` the TransformerEncoderPixelDecoder (input_proj + DETR encoder on res5)."""
    t: dict[str, tuple] = {}
    for i in (1, 2, 3):
        gn_conv(t, f"{p}adapter_{i}", c[i - 1], 1)
        gn_conv(t, f"{p}layer_{i}", D, 3)
    gn_conv(t, p + "layer_4", D if encoder_layers else c[3], 3)
    t[p + "mask_features.weight"], t[p + "mask_features.bias"] = (D, D, 3, 3), (D,)
    if encoder_layers:
        t[p + "input_proj.weight"], t[p + "input_proj.bias"] = (D, c[3], 1, 1), (D,)
    for n in range(encoder_layers):
        e = f"{p}transformer.encoder.layers.{n}."
        mha(t, e + "self_attn")
        linear(t, e + "linear1", FF, D)
        linear(t, e + "linear2", D, FF)
        norm(t, e + "norm1")
        norm(t, e + "norm2")
    return t


def heads_table(t: dict) -> None:
    p = "sem_seg_head.predictor."
    t[p + "query_embed.weight"] = (Q, D)
    linear(t, p + "class_embed", K + 1, D)
    for i in range(3):
        linear(t, f"{p}mask_embed.layers.{i}", D, D)
    t["criterion.empty_weight"] = (K + 1,)


def m2f_predictor_table(layers: int = 3) -> dict[str, tuple]:
    p, t = "sem_seg_head.predictor.", {}
    for i in range(layers):
        mha(t, f"{p}transformer_self_attention_layers.{i}.self_attn")
        norm(t, f"{p}transformer_self_attention_layers.{i}.norm")
        mha(t, f"{p}transformer_cross_attention_layers.{i}.multihead_attn")
        norm(t, f"{p}transformer_cross_attention_layers.{i}.norm")
        linear(t, f"{p}transformer_ffn_layers.{i}.linear1", FF, D)
        linear(t, f"{p}transformer_ffn_layers.{i}.linear2", D, FF)
        norm(t, f"{p}transformer_ffn_layers.{i}.norm")
    norm(t, p + "decoder_norm")
    t[p + "static_query.weight"], t[p + "level_embed.weight"] = (Q, D), (3, D)
    heads_table(t)
    return t


def mf_predictor_table(in_channels: int, layers: int = 2) -> dict[str, tuple]:
    p, t = "sem_seg_head.predictor.", {}
    for i in range(layers):
        d = f"{p}transformer.decoder.layers.{i}."
        mha(t, d + "self_attn")
        mha(t, d + "multihead_attn")
        linear(t, d + "linear1", FF, D)
        linear(t, d + "linear2", D, FF)
        for n in ("norm1", "norm2", "norm3"):
            norm(t, d + n)
    norm(t, p + "transformer.decoder.norm")
    if in_channels != D:
        t[p + "input_proj.weight"], t[p + "input_proj.bias"] = (D, in_channels, 1, 1), (D,)
    heads_table(t)
    return t


def expected_name(key: str) -> str | None:
    """The documented rename (official.md §4.2, docs/architecture.md)."""
    if key == "criterion.empty_weight":
        return None
    key = key.replace("sem_seg_head.predictor.", "transformer_decoder.").replace("static_query", "query_feat")
    key = key.replace("sem_seg_head.pixel_decoder.", "pixel_decoder.")
    return key.replace("sem_seg_head.", "pixel_decoder.")


RESNET_C, SWIN_C = [32, 64, 128, 256], [16, 32, 64, 128]
CASES = {
    "m2f_r50": lambda: {**resnet_table(), **msdeform_pixel_decoder_table(RESNET_C), **m2f_predictor_table()},
    "m2f_swin": lambda: {**swin_table(), **msdeform_pixel_decoder_table(SWIN_C), **m2f_predictor_table()},
    "mf_r50_legacy": lambda: {**resnet_table(), **fpn_pixel_decoder_table(RESNET_C, "sem_seg_head."),
                              **mf_predictor_table(RESNET_C[3])},
    "mf_r50_encoder_legacy": lambda: {**resnet_table(), **mf_predictor_table(D),
                                      **fpn_pixel_decoder_table(RESNET_C, "sem_seg_head.", encoder_layers=2)},
    "mf_swin": lambda: {**swin_table(), **fpn_pixel_decoder_table(SWIN_C, "sem_seg_head.pixel_decoder."),
                        **mf_predictor_table(SWIN_C[3])},
}


def official_arrays(table: dict[str, tuple], seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic float32 values (positive variances, valid position indices, a distinctive query)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in table.items():
        value = rng.standard_normal(shape).astype(np.float32)
        if key.endswith("running_var"):
            value = np.abs(value) + 0.5
        if key.endswith("relative_position_index"):
            value = rng.integers(0, (2 * SWIN_WS - 1) ** 2, shape).astype(np.int64)
        out[key] = value
    if "sem_seg_head.predictor.static_query.weight" in out:
        out["sem_seg_head.predictor.static_query.weight"] = STATIC_QUERY.copy()
    return out


def write_pkl(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with path.open("wb") as f:
        pickle.dump({"model": arrays, "__author__": "test"}, f, protocol=2)
    return path


def convert(*argv: str) -> None:
    convert_tool.main(["official", *map(str, argv)])


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    """Each case converted once: ``{case: (arrays, out_dir)}``."""
    out = {}
    for name, table in CASES.items():
        root = tmp_path_factory.mktemp(name)
        arrays = official_arrays(table())
        convert(write_pkl(root / "model_final_test.pkl", arrays), root / "out")
        out[name] = (arrays, root / "out")
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_every_key_lands_where_it_belongs(converted, case):
    arrays, out_dir = converted[case]
    state = torch.load(out_dir / "model.pth", weights_only=True)
    expected = {expected_name(k): k for k in arrays if expected_name(k) is not None}
    assert set(state) == set(expected)
    for ours, official in expected.items():
        assert torch.equal(state[ours], torch.from_numpy(arrays[official])), ours
    model = init_model(out_dir / "config.py", out_dir / "model.pth")  # strict: no model key left out
    assert set(model.state_dict()) == set(expected)


def test_static_query_becomes_query_feat(converted):
    for case in ("m2f_r50", "m2f_swin"):
        model = init_model(converted[case][1] / "config.py", converted[case][1] / "model.pth")
        assert torch.equal(model.transformer_decoder.query_feat.weight, torch.from_numpy(STATIC_QUERY))


@pytest.mark.parametrize("case, family_decoder, pixel_decoder, backbone", [
    ("m2f_r50", "MultiScaleMaskedTransformerDecoder", "MSDeformAttnPixelDecoder", "ResNet"),
    ("m2f_swin", "MultiScaleMaskedTransformerDecoder", "MSDeformAttnPixelDecoder", "SwinTransformer"),
    ("mf_r50_legacy", "StandardTransformerDecoder", "FPNPixelDecoder", "ResNet"),
    ("mf_r50_encoder_legacy", "StandardTransformerDecoder", "TransformerEncoderPixelDecoder", "ResNet"),
    ("mf_swin", "StandardTransformerDecoder", "FPNPixelDecoder", "SwinTransformer"),
])
def test_inferred_config(converted, case, family_decoder, pixel_decoder, backbone):
    model_cfg = load_config(converted[case][1] / "config.py").model
    td = model_cfg.transformer_decoder
    assert (model_cfg.num_classes, td.type, td.num_queries, td.hidden_dim) == (K, family_decoder, Q, D)
    assert td.dec_layers == (3 if case.startswith("m2f") else 2)
    assert (model_cfg.pixel_decoder.type, model_cfg.backbone.type) == (pixel_decoder, backbone)
    if backbone == "ResNet":
        assert model_cfg.backbone.num_blocks_per_stage == [1, 1, 2, 1]
        assert (model_cfg.backbone.stem_out_channels, model_cfg.backbone.width_per_group) == (16, 8)
    else:
        assert (model_cfg.backbone.embed_dim, model_cfg.backbone.window_size) == (SWIN_EMBED, SWIN_WS)
        assert list(model_cfg.backbone.depths) == list(SWIN_DEPTHS)
        assert list(model_cfg.backbone.num_heads) == list(SWIN_HEADS)
    if case == "mf_r50_encoder_legacy":
        assert td.in_feature == "encoder" and model_cfg.pixel_decoder.transformer_enc_layers == 2


def test_converted_model_runs(converted):
    model = init_model(converted["m2f_r50"][1] / "config.py", converted["m2f_r50"][1] / "model.pth")
    out = forward_logits(model, torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(0)))
    assert out.class_queries_logits.shape == (1, Q, K + 1)
    assert torch.isfinite(out.masks_queries_logits).all()


def test_with_config_only_weights(converted, tmp_path):
    arrays, out_dir = converted["mf_swin"]
    src = write_pkl(tmp_path / "m.pkl", arrays)
    convert(src, tmp_path / "out", "--config", out_dir / "config.py")
    assert (tmp_path / "out" / "model.pth").is_file() and not (tmp_path / "out" / "config.py").exists()


def test_wrong_shape_and_missing_keys_are_named(converted, tmp_path):
    arrays, out_dir = converted["m2f_r50"]
    bad = dict(arrays)
    bad["sem_seg_head.predictor.mask_embed.layers.1.weight"] = np.zeros((D + 1, D), np.float32)
    del bad["sem_seg_head.pixel_decoder.layer_1.norm.bias"]
    bad["backbone.res6.0.conv1.weight"] = np.zeros((1,), np.float32)
    with pytest.raises(RuntimeError) as err:
        convert(write_pkl(tmp_path / "bad.pkl", bad), tmp_path / "out", "--config", out_dir / "config.py")
    msg = str(err.value)
    assert "bad.pkl" in msg and "transformer_decoder.mask_embed.layers.1.weight: checkpoint (33, 32)" in msg
    assert "pixel_decoder.layer_1.norm.bias" in msg and "backbone.res6.0.conv1.weight" in msg
    assert not (tmp_path / "out" / "model.pth").exists()


def test_keys_outside_the_official_layout_are_named(converted, tmp_path):
    arrays = dict(converted["m2f_r50"][0])
    arrays["sem_seg_head.predictor_extra.weight"] = np.zeros(2, np.float32)
    arrays["optimizer_state"] = np.zeros(2, np.float32)
    with pytest.raises(KeyError) as err:
        convert(write_pkl(tmp_path / "bad.pkl", arrays), tmp_path / "out")
    assert "bad.pkl: 2 keys" in str(err.value)
    assert "'optimizer_state', 'sem_seg_head.predictor_extra.weight'" in str(err.value)


def test_unsafe_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"model": {"x": Evil()}, "__author__": "x"}))
    with pytest.raises(ValueError, match="refusing to load 'builtins.print'"):
        convert(path, tmp_path / "out")
