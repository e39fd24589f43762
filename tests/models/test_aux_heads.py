"""The training-only auxiliary head: its targets, its loss, and how the segmentor wires it."""
import pytest
import torch
import torch.nn.functional as F

from segformers.apis import build_model
from segformers.models.aux_heads import PixelClassificationHead, semantic_targets
from segformers.structures import ShapeSpec, Targets

from tests.models.test_segmentor import M2F_TINY, samples, tiny

AUX = dict(type="PixelClassificationHead", in_feature="mask_features", loss_weight=2.0)


def test_semantic_targets_paint_segments_in_order_and_ignore_the_rest():
    masks = torch.zeros(2, 4, 5, dtype=torch.bool)
    masks[0, :2] = True  # rows 0-1
    masks[1, 1:3, :2] = True  # rows 1-2, columns 0-1: overlaps segment 0 on row 1
    sem = semantic_targets([Targets(torch.tensor([3, 1]), masks), Targets(torch.zeros(0, dtype=torch.long),
                                                                          torch.zeros(0, 4, 5, dtype=torch.bool))], 4)
    expected = torch.full((4, 5), 255)
    expected[:2] = 3
    expected[1:3, :2] = 1
    assert torch.equal(sem[0], expected)
    assert (sem[1] == 255).all() and sem.dtype == torch.long
    with pytest.raises(ValueError, match=r"label 4 is outside \[0, 4\)"):
        semantic_targets([Targets(torch.tensor([4]), masks[:1])], 4)


def test_loss_is_the_cross_entropy_of_upsampled_logits():
    torch.manual_seed(0)
    head = PixelClassificationHead(input_shape={"mask_features": ShapeSpec(6, 4)}, num_classes=3, num_convs=1,
                                   channels=8, loss_weight=0.5)
    x = torch.randn(2, 6, 4, 4)
    g = torch.Generator().manual_seed(1)
    targets = [Targets(torch.tensor([0, 2]), torch.rand(2, 16, 16, generator=g) > 0.5) for _ in range(2)]
    loss = head.loss(x, targets)["loss_aux_sem"]
    logits = F.interpolate(head(x), size=(16, 16), mode="bilinear", align_corners=False)
    sem = semantic_targets(targets, 3)
    valid = sem != 255
    manual = -(logits.log_softmax(1).gather(1, sem.clamp(max=2)[:, None])[:, 0][valid]).mean()
    assert valid.any() and not valid.all()
    torch.testing.assert_close(loss, 0.5 * manual)
    with pytest.raises(ValueError, match="num_convs must be >= 0"):
        PixelClassificationHead(input_shape={"mask_features": ShapeSpec(6, 4)}, num_classes=3, num_convs=-1)


def test_all_ignored_pixels_give_a_zero_loss_that_still_backpropagates():
    head = PixelClassificationHead(input_shape={"mask_features": ShapeSpec(4, 4)}, num_classes=3)
    empty = Targets(torch.zeros(0, dtype=torch.long), torch.zeros(0, 8, 8, dtype=torch.bool))
    loss = head.loss(torch.randn(1, 4, 2, 2), [empty])["loss_aux_sem"]
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(head.classifier.weight.grad, torch.zeros_like(head.classifier.weight))


@pytest.mark.parametrize("in_feature,channels", [("mask_features", 32), ("res5", 128)])
def test_segmentor_adds_the_aux_loss_and_predicts_without_it(in_feature, channels):
    images = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
              for i in range(2)]
    torch.manual_seed(0)
    plain = build_model(tiny("mask2former_r50.py", M2F_TINY))
    torch.manual_seed(0)
    cfg = tiny("mask2former_r50.py", {**M2F_TINY, "model.auxiliary_head": {**AUX, "in_feature": in_feature}})
    model = build_model(cfg)
    assert model.auxiliary_head.classifier.in_channels == channels
    model.auxiliary_head.classifier.weight.data.normal_(generator=torch.Generator().manual_seed(0))
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples([(64, 64)] * 2, (3, 2))), True)
    torch.manual_seed(1)  # the same sampled points for both
    losses = model(**data, mode="loss")
    torch.manual_seed(1)
    base = plain(**data, mode="loss")
    assert set(losses) == set(base) | {"loss_aux_sem"} and losses["loss_aux_sem"] > 0
    for key in base:  # the head changes nothing else
        torch.testing.assert_close(losses[key], base[key])
    losses["loss_aux_sem"].backward()  # the aux loss alone trains the backbone
    assert model.backbone.stem.conv1.weight.grad.abs().sum() > 0
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("auxiliary_head.")})
    model.eval(), plain.eval()
    test = model.data_preprocessor(dict(inputs=images, data_samples=samples([(64, 64)] * 2)))
    a, b = model(**test, mode="predict"), plain(**test, mode="predict")
    assert torch.equal(a[0].pred["sem_seg"], b[0].pred["sem_seg"])


def test_unsupported_aux_inputs_are_named():
    cfg = tiny("mask2former_r50.py", {**M2F_TINY, "model.auxiliary_head": {**AUX, "in_feature": "multi_scale"}})
    with pytest.raises(ValueError, match="auxiliary_head.in_feature='multi_scale' is not supported"):
        build_model(cfg)
    cfg.model.auxiliary_head.in_feature = "res9"
    with pytest.raises(ValueError, match="in_feature='res9', which is neither"):
        build_model(cfg)
    cfg.model.auxiliary_head = dict(type="NoSuchHead")
    with pytest.raises(KeyError, match="NoSuchHead"):
        build_model(cfg)
