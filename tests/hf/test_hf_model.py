"""segformers.hf against transformers 5.23: the same weights give the same output fields (1e-4), the same
loss (1e-5), and save_pretrained writes folders transformers loads without a missing or unexpected key."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from segformers.hf import Mask2FormerForUniversalSegmentation, MaskFormerForInstanceSegmentation

transformers = pytest.importorskip("transformers")
from tests.checkpoint.test_hf_parity import (  # noqa: E402
    batch, mask2former, maskformer, randomize_norms_, small_resnet, small_swin,
)

ATOL = 1e-4
OURS = {"mask2former": Mask2FormerForUniversalSegmentation, "maskformer": MaskFormerForInstanceSegmentation}
CASES = [("mask2former", "resnet"), ("mask2former", "swin"), ("maskformer", "resnet"), ("maskformer", "swin")]


def hf_model(family: str, backbone: str, seed: int = 0, **config):  # noqa: ANN201
    torch.manual_seed(seed)
    build = mask2former if family == "mask2former" else maskformer
    model = build(small_swin() if backbone == "swin" else small_resnet())
    if config:
        for key, value in config.items():
            setattr(model.config, key, value)
        model = type(model)(model.config)
    return randomize_norms_(model, seed)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def check_fields(family: str, ours, ref) -> None:  # noqa: ANN001
    """Every field transformers returns, compared with ours (the documented departures excepted)."""
    for key in ("class_queries_logits", "masks_queries_logits", "encoder_last_hidden_state",
                "pixel_decoder_last_hidden_state", "transformer_decoder_last_hidden_state"):
        close(getattr(ours, key), ref[key])
    for a, b in zip(ours.encoder_hidden_states, ref.encoder_hidden_states, strict=True):
        close(a, b)
    states = ref.transformer_decoder_hidden_states
    if family == "mask2former":  # transformers returns these [Q, B, C] (its docs: [B, Q, C], as ours)
        states = [s.transpose(0, 1) for s in states]
        for a, b in zip(ours.pixel_decoder_hidden_states, ref.pixel_decoder_hidden_states, strict=True):
            close(a, b)
        for a, b in zip(ours.auxiliary_logits, ref.auxiliary_logits, strict=True):
            close(a["class_queries_logits"], b["class_queries_logits"])
            close(a["masks_queries_logits"], b["masks_queries_logits"])
    else:  # FPN maps: ours 1/32, 1/16, 1/8; transformers' 1/16, 1/8, 1/4 (docs/hf_model.md)
        for a, b in zip(ours.pixel_decoder_hidden_states[1:], ref.pixel_decoder_hidden_states[:2], strict=True):
            close(a, b)
        assert len(ours.hidden_states) == len(ref.hidden_states) == 11
        assert len(ours.auxiliary_logits) == len(ref.auxiliary_logits) - 1  # official auxiliary outputs
    for a, b in zip(ours.transformer_decoder_hidden_states, states, strict=True):
        close(a, b)
    assert ours.attentions is None and ours.loss is None


def run_both(ours, ref, **kwargs):  # noqa: ANN001, ANN201
    x, mask = batch()
    with torch.no_grad():
        return ours(x, pixel_mask=mask, **kwargs), ref(pixel_values=x, pixel_mask=mask, **kwargs)


@pytest.mark.parametrize("family,backbone", CASES)
def test_outputs_and_save_pretrained_match_transformers(family, backbone, tmp_path):
    ref = hf_model(family, backbone)
    ref.save_pretrained(tmp_path / "hf")
    ours = OURS[family].from_pretrained(tmp_path / "hf")
    assert not ours.training and ours.config.num_labels == 5 and ours.config.id2label[0] == "LABEL_0"
    got, want = run_both(ours, ref, output_hidden_states=True, output_auxiliary_logits=True)
    check_fields(family, got, want)
    assert want.class_queries_logits.std() > 1e-2 and want.masks_queries_logits.std() > 1e-2

    ours.save_pretrained(tmp_path / "ours")
    back, info = type(ref).from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert not any(info.values()), info
    written, original = load_file(tmp_path / "ours/model.safetensors"), load_file(tmp_path / "hf/model.safetensors")
    assert written.keys() == original.keys()
    unused = {k for k in original if k.endswith(("encoder.swin.layernorm.weight", "encoder.swin.layernorm.bias",
                                                   "encoder.model.layernorm.weight", "encoder.model.layernorm.bias"))}
    assert len(unused) == (2 if backbone == "swin" else 0)  # Swin's classification norm: we write an identity
    assert all(torch.equal(written[k], original[k]) for k in original.keys() - unused)
    close(run_both(ours, back.eval(), output_hidden_states=True)[1].masks_queries_logits, got.masks_queries_logits)


def test_defaults_and_tuple_output(tmp_path):
    ref = hf_model("mask2former", "resnet")
    ref.save_pretrained(tmp_path)
    ours = Mask2FormerForUniversalSegmentation.from_pretrained(tmp_path)
    x, _ = batch()
    with torch.no_grad():
        out = ours(x)
        as_tuple = ours(x, return_dict=False)
    assert out.auxiliary_logits is None and out.encoder_hidden_states is None  # transformers' defaults
    assert out.keys()[:2] == ["class_queries_logits", "masks_queries_logits"]
    assert len(as_tuple) == len(out.keys()) and torch.equal(as_tuple[0], out["class_queries_logits"])
    assert torch.equal(out[1], out.masks_queries_logits)


def labels(size=(96, 128)):  # noqa: ANN201
    g = torch.Generator().manual_seed(3)
    masks = [(torch.rand(3, *size, generator=g) > 0.5).float(), (torch.rand(2, *size, generator=g) > 0.5).float()]
    return masks, [torch.tensor([0, 4, 2]), torch.tensor([1, 1])]


@pytest.mark.parametrize("family", ["mask2former", "maskformer"])
def test_loss_equals_transformers(family, tmp_path):
    # MaskFormer without auxiliary loss: transformers' auxiliary predictions are not the official ones
    ref = hf_model(family, "resnet", **({} if family == "mask2former" else {"use_auxiliary_loss": False}))
    ref.save_pretrained(tmp_path)
    ours = OURS[family].from_pretrained(tmp_path)
    x, _ = batch()
    mask_labels, class_labels = labels()
    torch.manual_seed(5)  # same matcher / loss point draws on both sides (same order)
    got = ours(x, mask_labels=mask_labels, class_labels=class_labels, output_auxiliary_logits=True)
    torch.manual_seed(5)
    want = ref(pixel_values=x, mask_labels=mask_labels, class_labels=class_labels, output_auxiliary_logits=True)
    torch.testing.assert_close(got.loss, want.loss, atol=1e-5, rtol=1e-5)
    torch.manual_seed(5)
    terms = ref.get_loss_dict(want.masks_queries_logits, want.class_queries_logits, mask_labels, class_labels,
                              want.auxiliary_logits or [])
    assert got.loss_dict.keys() == terms.keys() and len(terms) == (12 if family == "mask2former" else 3)
    for key, value in terms.items():
        torch.testing.assert_close(got.loss_dict[key], value, atol=1e-5, rtol=1e-5, msg=key)
    got.loss.backward()
    want.loss.backward()
    torch.testing.assert_close(ours.segmentor.transformer_decoder.class_embed.weight.grad,
                               ref.class_predictor.weight.grad, atol=1e-5, rtol=1e-4)


def fine_tune(model, processor, steps: int = 2) -> list[float]:  # noqa: ANN001
    """transformers' fine-tuning recipe, verbatim: processor -> mask_labels / class_labels -> loss -> step."""
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (64, 96, 3), generator=g, dtype=torch.uint8).numpy() for _ in range(2)]
    maps = [torch.randint(0, 4, (64, 96), generator=g, dtype=torch.uint8).numpy() for _ in range(2)]
    inputs = processor(images, segmentation_maps=maps, return_tensors="pt")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(steps):
        torch.manual_seed(1)
        outputs = model(pixel_values=inputs["pixel_values"], mask_labels=[m for m in inputs["mask_labels"]],
                        class_labels=[c for c in inputs["class_labels"]])
        loss = outputs.loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test_transformers_fine_tuning_recipe_runs_unchanged(tmp_path):
    from segformers.processing import Mask2FormerImageProcessor
    from tests.processing.hf_processing_utils import hf_classes

    ref = hf_model("mask2former", "swin")  # Swin (no BatchNorm) without drop path: training is deterministic
    ref.config.backbone_config.drop_path_rate = 0.0
    ref = randomize_norms_(type(ref)(ref.config))
    ref.save_pretrained(tmp_path)
    ours = Mask2FormerForUniversalSegmentation.from_pretrained(tmp_path)
    kwargs = dict(ignore_index=255, size={"height": 64, "width": 96})
    got = fine_tune(ours, Mask2FormerImageProcessor(**kwargs))
    want = fine_tune(ref, hf_classes()["mask2former"](**kwargs))
    assert got[1] < got[0]
    assert got == pytest.approx(want, rel=1e-4)


def test_segformers_folder_and_config_round_trip(tmp_path):
    from segformers.checkpoint.hf import convert_hf_folder

    ref = hf_model("maskformer", "swin")
    ref.save_pretrained(tmp_path / "hf")
    convert_hf_folder(tmp_path / "hf", tmp_path / "converted")  # config.py + model.pth
    ours = MaskFormerForInstanceSegmentation.from_pretrained(tmp_path / "converted")
    ours.save_pretrained(tmp_path / "again")  # config.json made from our model config
    back = transformers.MaskFormerForInstanceSegmentation.from_pretrained(tmp_path / "again")
    got, want = run_both(ours, back.eval(), output_hidden_states=True, output_auxiliary_logits=True)
    check_fields("maskformer", got, want)
    written, original = load_file(tmp_path / "again/model.safetensors"), load_file(tmp_path / "hf/model.safetensors")
    assert written.keys() == original.keys()


def test_errors_name_the_problem(tmp_path):
    ref = hf_model("maskformer", "resnet")
    ref.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="holds a maskformer model; load it with .*MaskFormerForInstanceSegmentation"):
        Mask2FormerForUniversalSegmentation.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="Nothing is downloaded"):
        MaskFormerForInstanceSegmentation.from_pretrained("facebook/maskformer-swin-base-ade")
    with pytest.raises(TypeError, match="unsupported arguments \\['revision'\\]"):
        MaskFormerForInstanceSegmentation.from_pretrained(tmp_path, revision="main")
    ours = MaskFormerForInstanceSegmentation.from_pretrained(tmp_path)
    x, _ = batch()
    with pytest.raises(ValueError, match="Pass both mask_labels and class_labels"):
        ours(x, mask_labels=labels()[0])
    with pytest.raises(ValueError, match="image 1: mask_labels must be \\[N, H, W\\]"):
        ours(x, mask_labels=labels()[0], class_labels=[torch.tensor([0, 4, 2]), torch.tensor([1])])
    with pytest.raises(ValueError, match="pixel_mask must be"):
        ours(x, pixel_mask=torch.ones(2, 10, 10))
    with pytest.warns(UserWarning, match="attentions are not returned"):
        assert ours(x, output_attentions=True).attentions is None


@pytest.mark.parametrize("name", ["mask2former_r50.py", "maskformer_r50.py"])
def test_models_of_our_configs_save_for_transformers(name, tmp_path):
    """A model built from a base config (shrunk) -> segformers folder -> save_pretrained -> transformers."""
    from tests.hf_utils import randomize_
    from tests.models.test_segmentor import M2F_TINY, MF_TINY, tiny

    from segformers.apis import build_model

    cfg = tiny(name, M2F_TINY if name.startswith("mask2former") else MF_TINY)
    cfg.metainfo = dict(classes=[f"c{i}" for i in range(5)])
    cfg.dump(str(tmp_path / "config.py"))
    torch.save(randomize_(build_model(cfg), seed=2).state_dict(), tmp_path / "model.pth")
    family = "mask2former" if name.startswith("mask2former") else "maskformer"
    ours = OURS[family].from_pretrained(tmp_path)
    assert ours.config.id2label[4] == "c4"
    ours.save_pretrained(tmp_path / "hf")
    ref, info = getattr(transformers, type(ours).__name__).from_pretrained(tmp_path / "hf", output_loading_info=True)
    assert not any(info.values()), info
    assert ref.config.id2label[4] == "c4"
    got, want = run_both(ours, ref.eval(), output_hidden_states=True)
    close(got.class_queries_logits, want.class_queries_logits)
    close(got.masks_queries_logits, want.masks_queries_logits)


def test_configs_transformers_cannot_express_are_refused(tmp_path):
    from tests.models.test_segmentor import M2F_TINY, tiny

    from segformers.apis import build_model

    cfg = tiny("mask2former_r50.py", {**M2F_TINY, "model.backbone.stem_type": "deeplab"})
    ours = Mask2FormerForUniversalSegmentation(build_model(cfg), model_cfg=cfg.model.to_dict())
    with pytest.raises(ValueError, match="backbone.stem_type='deeplab' cannot be expressed in a transformers config"):
        ours.save_pretrained(tmp_path)
    cfg = tiny("mask2former_r50.py", {**M2F_TINY, "model.transformer_decoder.nheads": 4})
    ours = Mask2FormerForUniversalSegmentation(build_model(cfg), model_cfg=cfg.model.to_dict())
    with pytest.raises(ValueError, match="transformer_decoder.nheads=4 .* needs 2"):
        ours.save_pretrained(tmp_path)
