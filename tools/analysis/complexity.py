"""Parameters and FLOPs of a config's model, counted with fvcore the way the papers did.

Usage:
    python tools/analysis/complexity.py CONFIG [--shape H W] [--depth D] [--aux-heads] [--no-flops]
        [--json OUT]

Counting rules (official.md §1.1; the official ``tools/analyze_model.py`` = detectron2's fvcore wrapper):

* one FLOP = one multiply-add; the whole inference path is traced: backbone, pixel decoder, transformer
  decoder, the resize of the masks to the padded input, the crop + resize to the original image size and
  the semantic inference einsum;
* prediction heads: Mask2Former's decoder needs every layer's mask (it builds the next attention mask);
  MaskFormer's ``StandardTransformerDecoder`` is counted with the final prediction only (deep
  supervision off at inference). That reproduces the MaskFormer paper (R50 53G, Swin-T 55G, Swin-S 79G);
  the released code also computes the 5 auxiliary mask predictions in eval mode (+2.1G at 512x512: the
  maintainer's ``analyze_model`` printed 81.079G for Swin-S, MaskFormer issue #50). ``--aux-heads``
  counts them too;
* counted ops: convolutions, ``linear`` / ``addmm`` / ``matmul`` / ``bmm`` / ``einsum``, group / layer
  norm, ``upsample_bilinear2d`` / ``upsample_nearest2d`` (4 / 1 per output element), ``grid_sampler``
  (4 per output element: the multi-scale deformable attention is counted through its ``grid_sample``
  form, as the maintainers did with ``ms_deform_attn_core_pytorch``), and
  ``scaled_dot_product_attention`` (``B·heads·Lq·Lk·(d_k + d_v)``: the ``q·kᵀ`` and ``attn·v``
  products that the official ``nn.MultiheadAttention`` / Swin code ran as ``bmm`` / ``matmul``);
* not counted (as detectron2): element-wise arithmetic (``add``, ``mul``, ``div``, ``sub``, ``rsub``,
  ``neg``, ``exp``, ``sqrt``, ``reciprocal``, ``sigmoid``, ``softmax``), ``batch_norm`` (the frozen
  BN), ``max_pool2d``, ``argmax``, ``sort`` and padding; fvcore has no handle (and counts nothing)
  for activations (``relu``, ``gelu``), ``sin`` / ``cos`` / ``pow`` / ``cumsum`` (position
  encodings), ``rsqrt``, comparisons and logical ops (attention masks), ``sum``, ``topk``,
  ``masked_fill``, ``pad``, indexing and copies — the report lists them under "skipped". As in
  the official numbers, these are a negligible share of the total.

Default input (override with ``--shape H W``, an already resized and padded image):

* semantic-only models on ADE20K / ADE20K-Full / COCO-Stuff: a fixed ``crop × crop`` image (the
  official ``--use-fixed-input-size``; the papers' "FLOPs at the crop size");
* everything else: one representative validation image (table ``REPRESENTATIVE_IMAGE``) resized by
  the config's test ``ResizeShortestEdge`` and padded to the size divisor, e.g. COCO's most common
  640×480 image -> 800×1067 -> padded 800×1088. The papers averaged COCO over 100 validation images.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# Original (H, W) of a representative validation image per dataset type prefix.
REPRESENTATIVE_IMAGE = {
    "Coco": (480, 640),  # most common COCO image size
    "ADE20K": (512, 683),  # a typical 4:3 ADE20K image
    "Cityscapes": (1024, 2048),  # every Cityscapes image
    "Mapillary": (1536, 2048),  # a 4:3 image already at the test size (the resize back to the >10 MP
    # originals is left out: it would only add a bilinear resize of the outputs)
}
FIXED_CROP_DATASETS = ("ADE20KDataset", "ADE20KFullDataset", "CocoStuff10kDataset")
# Ops detectron2's FlopCountAnalysis explicitly ignores (``detectron2/utils/analysis.py``).
IGNORED_OPS = (
    "aten::add", "aten::add_", "aten::argmax", "aten::argsort", "aten::batch_norm", "aten::constant_pad_nd",
    "aten::div", "aten::div_", "aten::exp", "aten::log2", "aten::max_pool2d", "aten::meshgrid", "aten::mul",
    "aten::mul_", "aten::neg", "aten::nonzero_numpy", "aten::reciprocal", "aten::repeat_interleave",
    "aten::rsub", "aten::sigmoid", "aten::sigmoid_", "aten::softmax", "aten::sort", "aten::sqrt",
    "aten::sub",
    "torchvision::nms",
)


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """fvcore handle for ``aten::scaled_dot_product_attention``: ``q·kᵀ`` plus ``attn·v`` multiply-adds."""
    from fvcore.nn.jit_handles import get_shape

    q, k, v = (get_shape(x) for x in inputs[:3])
    batch_heads_lq = 1
    for d in q[:-1]:
        batch_heads_lq *= d
    return batch_heads_lq * k[-2] * (q[-1] + v[-1])


class InferenceGraph(nn.Module):
    """The model's predict path as a traceable ``x [1, 3, H, W] -> tuple of tensors``.

    Runs what :class:`~segformers.models.postprocess.MaskFormerInference` runs before its panoptic /
    instance steps: masks resized to the input, then (``postprocess_before_inference``, i.e. panoptic
    or instance models) cropped and resized to the original size, and the semantic einsum if
    ``semantic_on``. The panoptic / instance steps themselves are left out: they consist only of ops
    that neither fvcore nor detectron2 count (sigmoid, comparisons, argmax, top-k, indexing), and their
    full-resolution intermediates cost gigabytes.
    """

    def __init__(self, model: nn.Module, img_shape: Sequence[int], ori_shape: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.img_shape, self.ori_shape = tuple(img_shape), tuple(ori_shape)
        post = model.postprocessor
        self.semantic_on = bool(getattr(post, "semantic_on", False))
        # HFImageProcessorInference (converted Hugging Face configs) has no such switch: like transformers'
        # processor it resizes the (cropped) logits to the original size before any result is made
        self.before = bool(getattr(post, "postprocess_before_inference", True))

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        from segformers.models.postprocess import resize_to_original, semantic_inference

        out = self.model.extract(x)
        masks = F.interpolate(out.pred_masks, size=x.shape[-2:], mode="bilinear", align_corners=False)[0]
        outputs = [out.pred_logits, masks]
        if self.before:
            masks = resize_to_original(masks, self.img_shape, self.ori_shape)
            outputs.append(masks)
        if self.semantic_on:
            sem = semantic_inference(out.pred_logits[0], masks)
            outputs.append(sem if self.before else resize_to_original(sem, self.img_shape, self.ori_shape))
        return tuple(outputs)


def _dataset_type(cfg: Any) -> str:
    try:
        return str(cfg.test_dataloader.dataset.type)
    except (AttributeError, KeyError):
        return ""


def _test_resize(cfg: Any) -> Optional[tuple[int, Optional[int]]]:
    try:
        pipeline = cfg.test_dataloader.dataset.get("pipeline", [])
    except (AttributeError, KeyError):  # a model-only config (e.g. tools/convert_checkpoint.py hf output)
        return None
    for t in pipeline:
        if t.get("type") == "ResizeShortestEdge":
            short = t["short_edge_length"]
            return int(short if isinstance(short, int) else short[-1]), t.get("max_size")
    return None


def resize_shortest_edge(hw: Sequence[int], short: int, max_size: Optional[int]) -> tuple[int, int]:
    """detectron2 ``ResizeShortestEdge`` output size of an ``hw`` image."""
    h, w = hw
    scale = short / min(h, w)
    if max_size is not None and max(h, w) * scale > max_size:
        scale = max_size / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def default_input(cfg: Any) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], str]:
    """``(padded input, resized image, original image, description)`` sizes for a config."""
    post = cfg.model.get("postprocessor", {})
    semantic_only = not (post.get("panoptic_on") or post.get("instance_on"))
    dtype = _dataset_type(cfg)
    divisor = max(int(cfg.model.get("data_preprocessor", {}).get("size_divisor", 32)), 1)
    if semantic_only and dtype in FIXED_CROP_DATASETS and "crop_size" in cfg:
        side = int(cfg.crop_size[0])
        return (side, side), (side, side), (side, side), f"fixed {side}x{side} (crop size)"
    ori = next((hw for prefix, hw in REPRESENTATIVE_IMAGE.items() if dtype.startswith(prefix)), None)
    resize = _test_resize(cfg)
    if ori is None or resize is None:
        what = f"dataset '{dtype}'" if dtype else "a config without a test_dataloader"
        raise ValueError(f"No default input for {what}: pass --shape H W (the padded input size).")
    img = resize_shortest_edge(ori, *resize)
    pad = tuple(-(-s // divisor) * divisor for s in img)
    desc = f"{ori[0]}x{ori[1]} image -> test resize {img[0]}x{img[1]} -> padded {pad[0]}x{pad[1]}"
    return pad, img, ori, desc  # type: ignore[return-value]


@contextmanager
def grid_sample_deform_attn() -> Iterator[None]:
    """Run multi-scale deformable attention through ``grid_sample`` (its countable PyTorch form)."""
    from segformers.models.layers import ms_deform_attn as mod

    original = mod.ms_deform_attn
    mod.ms_deform_attn = partial(original, impl="grid_sample")
    try:
        yield
    finally:
        mod.ms_deform_attn = original


def build(config: str, aux_heads: bool = False) -> tuple[Any, nn.Module]:
    """The config and its model (random weights, eval mode, CPU); see the module doc for ``aux_heads``."""
    from segformers.apis import build_model, load_config

    cfg = load_config(config)
    model = build_model(cfg).eval()
    if not aux_heads and type(model.transformer_decoder).__name__ == "StandardTransformerDecoder":
        # the decoders return every layer; counted the paper's way, the DETR stack gives the last one only
        stack = model.transformer_decoder.transformer["decoder"]
        stack.forward = partial(stack.forward, intermediate=False)
    return cfg, model


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters per top-level part and in total."""
    parts = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    parts = {k: v for k, v in parts.items() if v}
    parts["total"] = sum(p.numel() for p in model.parameters())
    return parts


def count_flops(model: nn.Module, pad: Sequence[int], img: Sequence[int], ori: Sequence[int]):  # noqa: ANN201
    """fvcore ``FlopCountAnalysis`` of the inference graph on a zero image ``[1, 3, *pad]``."""
    from fvcore.nn import FlopCountAnalysis

    graph = InferenceGraph(model, img, ori).eval()
    x = torch.zeros(1, 3, *pad)
    analysis = FlopCountAnalysis(graph, (x,))
    analysis.set_op_handle(**{op: None for op in IGNORED_OPS})
    analysis.set_op_handle(**{"aten::scaled_dot_product_attention": sdpa_flop_jit})
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    with torch.no_grad(), grid_sample_deform_attn():
        total = analysis.total()
    return analysis, total


def _module_depth(name: str) -> int:
    """0 for the graph root, 1 for ``model.backbone``, 2 for ``model.backbone.res2``, ..."""
    return name.count(".") if name.startswith("model.") else 0


def measure(
    config: str, shape: Optional[Sequence[int]] = None, flops: bool = True, aux_heads: bool = False,
    depth: int = 1,
) -> dict:
    """Parameters and (optionally) FLOPs of ``config``; ``shape`` = padded input ``(H, W)``.

    ``flops.by_module`` lists modules down to ``depth`` levels below the model (1 = its parts) plus
    the post-processing, which runs outside any module.
    """
    cfg, model = build(config, aux_heads)
    result: dict[str, Any] = {"config": str(config), "params": count_parameters(model)}
    if shape is not None:
        pad = img = ori = (int(shape[0]), int(shape[1]))
        desc = f"{pad[0]}x{pad[1]} (--shape)"
    else:
        pad, img, ori, desc = default_input(cfg)
    result["input"] = {"shape": list(pad), "description": desc}
    if flops:
        analysis, total = count_flops(model, pad, img, ori)
        by_module = analysis.by_module()
        parts = sum(v for k, v in by_module.items() if _module_depth(k) == 1)
        result["flops"] = {
            "total": total,
            "by_module": {k[len("model."):]: v for k, v in by_module.items() if 1 <= _module_depth(k) <= depth and v},
            "by_operator": dict(analysis.by_operator()),
            "skipped": dict(analysis.unsupported_ops()),
        }
        result["flops"]["by_module"]["postprocessing (outside modules)"] = total - parts
    return result


def format_report(result: dict) -> str:
    """Human-readable parameters / FLOPs breakdown."""
    lines = [f"config: {result['config']}", f"input:  {result['input']['description']}", "", "parameters:"]
    for k, v in result["params"].items():
        lines.append(f"  {k:<38}{v:>15,}  ({v / 1e6:.2f}M)")
    if "flops" in result:
        fl = result["flops"]
        lines += ["", f"FLOPs: {fl['total'] / 1e9:.2f}G", "  by module:"]
        lines += [f"    {'  ' * k.count('.')}{k:<{36 - 2 * k.count('.')}}{v / 1e9:>10.2f}G"
                  for k, v in fl["by_module"].items()]
        lines.append("  by operator:")
        ops = sorted(fl["by_operator"].items(), key=lambda kv: -kv[1])
        lines += [f"    {k:<36}{v / 1e9:>10.2f}G" for k, v in ops]
        skipped = ", ".join(f"{k} x{n}" for k, n in sorted(fl["skipped"].items()))
        lines.append(f"  skipped (no fvcore handle): {skipped}")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="config file")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"), help="padded input size")
    parser.add_argument("--depth", type=int, default=1, help="module levels in the FLOPs breakdown")
    parser.add_argument("--no-flops", action="store_true", help="count parameters only")
    parser.add_argument("--aux-heads", action="store_true",
                        help="MaskFormer: also count the auxiliary mask predictions (released code)")
    parser.add_argument("--json", help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    result = measure(args.config, args.shape, flops=not args.no_flops, aux_heads=args.aux_heads,
                     depth=args.depth)
    print(format_report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
