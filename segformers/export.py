"""Export the tensor forward of a segmentor: strict ``torch.export`` with dynamic sizes, and ONNX.

Only the network is exported: ``pixel_values [B, 3, H, W]`` (normalized and padded, as the data
preprocessor or the image processor makes them) -> ``class_queries_logits [B, Q, K+1]`` and
``masks_queries_logits [B, Q, H/4, W/4]``. Pre- and post-processing stay outside (``docs/export.md``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
import torch.fx.experimental._config as fx_config
from torch import Tensor, nn

OUTPUT_NAMES = ("class_queries_logits", "masks_queries_logits")
INPUT_NAME = "pixel_values"
MAX_SIDE = 8192  # the largest height / width a dynamic export accepts


class TensorForward(nn.Module):
    """``pixel_values [B, 3, H, W] -> (class_queries_logits [B, Q, K+1], masks_queries_logits [B, Q, H/4, W/4])``.

    Wraps a segmentor (anything with ``extract(images) -> DecoderOutput``) and returns plain tensors,
    the final prediction only, so ``torch.export`` and ONNX see no dataclass.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        out = self.segmentor.extract(pixel_values)
        return out.class_logits[-1], out.mask_logits[-1]


def size_divisor(segmentor: nn.Module) -> int:
    """What H and W must be multiples of: the data preprocessor's ``size_divisor`` (else 32)."""
    divisor = getattr(getattr(segmentor, "data_preprocessor", None), "size_divisor", None)
    return int(divisor) if divisor else 32


def dynamic_shapes(divisor: int) -> tuple[dict[int, object]]:
    """``dynamic_shapes`` for :func:`torch.export.export`: H and W any multiple of ``divisor`` (the batch
    size stays the example's)."""
    return ({
        2: divisor * torch.export.Dim("h_blocks", min=1, max=MAX_SIDE // divisor),
        3: divisor * torch.export.Dim("w_blocks", min=1, max=MAX_SIDE // divisor),
    },)


def check_example(example: Tensor, divisor: int) -> None:
    """Raise ``ValueError`` unless ``example`` is ``[B, 3, H, W]`` with H, W multiples of ``divisor``."""
    if example.ndim != 4 or example.shape[1] != 3:
        raise ValueError(f"The example input must be [B, 3, H, W], got shape {tuple(example.shape)}.")
    if example.shape[-2] % divisor or example.shape[-1] % divisor:
        raise ValueError(
            f"The example input is {example.shape[-2]}x{example.shape[-1]}; height and width must be multiples "
            f"of {divisor} (the model's size_divisor): pad the images as the data preprocessor does."
        )


def check_no_autocast(segmentor: nn.Module) -> None:
    """Raise ``ValueError`` naming the part if a module runs under its own autocast (``autocast_dtype``):
    an autocast region inside the graph does not export; the exported graph is float32."""
    for name, module in segmentor.named_modules():
        if getattr(module, "autocast_dtype", None) is not None:
            raise ValueError(
                f"{name or 'the model'} runs under its own autocast ({module.autocast_dtype}), which torch.export "
                f"cannot trace; export the float32 model: --cfg-options model.{name}.autocast_dtype=None."
            )


def export_program(
    segmentor: nn.Module, example: Tensor, *, dynamic: bool = True
) -> torch.export.ExportedProgram:
    """Strict :func:`torch.export.export` of :class:`TensorForward` in eval mode.

    Args:
        segmentor: a built segformers segmentor (e.g. from ``init_model``).
        example: ``[B, 3, H, W]`` input to trace with (H, W multiples of the size divisor); the graph
            keeps its batch size ``B``.
        dynamic: any height and width that are multiples of the divisor (up to ``MAX_SIDE``); otherwise
            the graph accepts only ``example``'s shape.
    """
    divisor = size_divisor(segmentor)
    check_example(example, divisor)
    check_no_autocast(segmentor)
    module = TensorForward(segmentor).eval()
    shapes = dynamic_shapes(divisor) if dynamic else None
    # size-oblivious reasoning: no 0/1 specialisation of sizes derived from H and W (the ONNX exporter
    # sets the same); the model's deformable attention and position encodings take their export paths
    with torch.no_grad(), fx_config.patch(backed_size_oblivious=True):
        return torch.export.export(module, (example,), dynamic_shapes=shapes, strict=True)


def export_onnx(
    program: torch.export.ExportedProgram, path: Union[str, Path], *, opset: Optional[int] = None
) -> Path:
    """Write ``program`` as an ONNX file with the dynamo exporter; returns the path.

    Input ``pixel_values``, outputs ``class_queries_logits`` and ``masks_queries_logits``; dynamic sizes
    of the program stay dynamic in the ONNX graph.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {} if opset is None else {"opset_version": opset}
    onnx_program = torch.onnx.export(
        program, dynamo=True, input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES), verbose=False, **kwargs
    )
    onnx_program.save(str(path))
    return path
