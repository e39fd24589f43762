"""Export of the tensor forward: strict torch.export with dynamic height / width, ONNX through onnxruntime,
tools/export.py, and the export paths of deformable attention and the position encoding."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segformers.apis import build_model
from segformers.export import TensorForward, export_onnx, export_program
from segformers.models.layers import PositionEmbeddingSine
from segformers.models.layers.ms_deform_attn import MSDeformAttn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))
from test_segmentor import M2F_TINY, MF_TINY, tiny  # noqa: E402

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
SWIN = {"model.backbone.embed_dim": 16, "model.backbone.depths": [1, 1, 2, 1], "model.backbone.num_heads": [1, 2, 2, 4],
        "model.backbone.window_size": 4}
TRACED, UNTRACED = (128, 160), [(64, 96), (96, 128)]


def tiny_cfg(name: str) -> Config:
    """A real base config shrunk for CPU (ResNet-18 with one block per stage, or a 16-wide Swin)."""
    options = dict(M2F_TINY if name.startswith("mask2former") else MF_TINY)
    if "swin" in name:
        options = {**{k: v for k, v in options.items() if not k.startswith("model.backbone")}, **SWIN}
    else:
        options["model.backbone.num_blocks_per_stage"] = [1, 1, 1, 1]
    return tiny(name, options)


def inputs(size: tuple[int, int]) -> torch.Tensor:
    return torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(size[0]))


@pytest.mark.parametrize("name", ["mask2former_r50.py", "mask2former_swin-t.py", "maskformer_r50.py",
                                  "maskformer_swin-t.py"])
def test_export_runs_at_sizes_it_was_not_traced_at(name, tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(name)).eval()
    eager = TensorForward(model)
    program = export_program(model, inputs(TRACED))
    assert not any(isinstance(m, PositionEmbeddingSine) and m._unmasked for m in model.modules())  # no cache
    for size in [TRACED, *UNTRACED]:
        with torch.no_grad():
            got, want = program.module()(inputs(size)), eager(inputs(size))
        assert got[1].shape[-2:] == (size[0] // 4, size[1] // 4)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    if not HAS_ONNX:
        pytest.skip("onnx / onnxscript / onnxruntime not installed (requirements/optional.txt): ONNX part skipped")
    import onnxruntime

    path = export_onnx(program, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixel_values"]
    assert [o.name for o in session.get_outputs()] == ["class_queries_logits", "masks_queries_logits"]
    for size in UNTRACED:
        with torch.no_grad():
            want = eager(inputs(size))
        got = session.run(None, {"pixel_values": inputs(size).numpy()})
        for a, b in zip(got, want):
            torch.testing.assert_close(torch.from_numpy(a), b, atol=1e-4, rtol=0)


def test_export_rejects_sizes_off_the_divisor():
    model = build_model(tiny_cfg("maskformer_r50.py")).eval()
    with pytest.raises(ValueError, match="multiples of 32"):
        export_program(model, torch.zeros(1, 3, 100, 96))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        export_program(model, torch.zeros(3, 64, 96))
    cfg = tiny_cfg("maskformer_r50.py")
    cfg.model.backbone.autocast_dtype = "bfloat16"
    with pytest.raises(ValueError, match=r"backbone runs under its own autocast .*backbone\.autocast_dtype=None"):
        export_program(build_model(cfg).eval(), torch.zeros(1, 3, 64, 96))


def test_deformable_attention_exports_through_grid_sample_with_the_same_numbers():
    torch.manual_seed(0)
    attn = MSDeformAttn(embed_dim=32, num_levels=2, num_heads=4, num_points=3).eval()
    with torch.no_grad():
        attn.sampling_offsets.weight.normal_(0, 0.5)
        attn.attention_weights.weight.normal_(0, 0.5)

    class Attend(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = attn

        def forward(self, query: torch.Tensor, ref: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
            return self.attn(query, ref, value, [(6, 8), (3, 4)])

    args = (torch.randn(2, 10, 32), torch.rand(2, 10, 2, 2), torch.randn(2, 60, 32))
    program = torch.export.export(Attend(), args, strict=True)
    ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert any("grid_sampler" in op for op in ops) and not any("embedding_bag" in op for op in ops)
    with torch.no_grad():  # eager on CPU: the gather + embedding_bag path
        torch.testing.assert_close(program.module()(*args), Attend()(*args), atol=1e-5, rtol=0)


def assert_checked(printed: str) -> None:
    """``--check`` printed the traced size and the second one, each output within 1e-4 of eager."""
    lines = [ln for ln in printed.splitlines() if "max |export - eager|" in ln]
    assert [ln.split(":")[0] for ln in lines] == ["64x96", "96x160"]
    assert all(float(part.split()[-1]) < 1e-4 for ln in lines for part in ln.split(": ")[-1].split(", "))


def test_tools_export_writes_graphs_and_their_description(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("export_tool", ROOT / "tools" / "export.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    torch.manual_seed(0)
    cfg = tiny_cfg("maskformer_r50.py")
    cfg.dump(str(tmp_path / "config.py"))
    torch.save(build_model(cfg).state_dict(), tmp_path / "model.pth")
    common = [str(tmp_path / "config.py"), str(tmp_path / "model.pth"), "--dynamic", "--size", "64", "96", "--check"]
    pt2 = tool.main([*common, "--format", "torch-export"])
    assert pt2 == tmp_path / "model.pt2"
    meta = json.loads(Path(str(pt2) + ".json").read_text())
    assert meta["size_divisor"] == 32 and meta["outputs"] == ["class_queries_logits", "masks_queries_logits"]
    assert meta["pixel_mean"] == pytest.approx([123.675, 116.28, 103.53]) and meta["num_classes"] == 5
    assert_checked(capsys.readouterr().out)
    loaded = torch.export.load(str(pt2))
    with torch.no_grad():
        assert loaded.module()(torch.zeros(1, 3, 128, 64))[1].shape == (1, 6, 32, 16)
    if not HAS_ONNX:
        pytest.skip("onnx / onnxscript / onnxruntime not installed (requirements/optional.txt): ONNX part skipped")
    assert tool.main([*common, "--format", "onnx", "--out", str(tmp_path / "graph.onnx")]) == tmp_path / "graph.onnx"
    assert json.loads((tmp_path / "graph.onnx.json").read_text())["format"] == "onnx"
    assert_checked(capsys.readouterr().out)  # through onnxruntime
