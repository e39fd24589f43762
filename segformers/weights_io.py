"""Reading weight files, the ground floor that ``models``, ``checkpoint`` and ``apis`` share.

* Safe reading: :func:`read_weights_file` (``.pkl`` through :class:`RestrictedUnpickler`, anything else
  through ``torch.load(weights_only=True)``), :func:`extract_state_dict` (the name -> tensor mapping of a
  loaded file).
* Backbone formats (official.md §4.4), all turned into the state-dict names of our ``ResNet`` /
  ``SwinTransformer`` by :func:`read_backbone_weights`:

  * ``torchvision`` ResNet ``.pth``: ``conv1``, ``bn1``, ``layer{1-4}.{j}.{conv,bn}{1-3}``,
    ``downsample.{0,1}``; renamed the way detectron2's ``convert-torchvision-to-d2.py`` does; ``fc.*`` unused.
  * ``detectron2`` ResNet ``R-50.pkl`` / ``R-101.pkl`` / ``R-103.pkl``: already our names
    (``stem.conv1``, ``res2.0.conv1.norm.running_mean``, deeplab stem ``stem.conv{1,2,3}``); ``stem.fc.*`` unused.
  * ``swin``: the official Swin ``.pth`` (``{"model": ...}``) or its detectron2 ``.pkl``: our names; the stored
    ``attn_mask`` buffers, the final ``norm.*`` and the classifier ``head.*`` are unused.
  * A full model (``backbone.*`` keys: official ``model_final_*.pkl``, a segformers checkpoint): its backbone.

  Keys that a format does not define raise, naming every such key.
* segformers checkpoints: :func:`load_state_dict_file` and :func:`load_weights` (a ``load_state_dict``
  that names every key that does not fit).

Nothing here imports another segformers module.
"""
from __future__ import annotations

import codecs
import collections
import io
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor

PathLike = Union[str, Path]

# --- reading files -------------------------------------------------------------------------------

_NUMPY_CORE = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core


def _load_storage_weights_only(data: bytes) -> Any:
    """What ``torch.storage._load_from_bytes`` does, without arbitrary unpickling."""
    return torch.load(io.BytesIO(data), weights_only=True)


_SAFE_GLOBALS: dict[tuple[str, str], Callable] = {
    ("numpy.core.multiarray", "_reconstruct"): _NUMPY_CORE.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _NUMPY_CORE.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _NUMPY_CORE.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _NUMPY_CORE.multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles store bytes
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): _load_storage_weights_only,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild numpy arrays, torch tensors and basic containers.

    Why: unpickling may call any importable function, so a crafted ``.pkl`` runs code when it is read.
    The published detectron2 files hold only dicts, strings and numpy arrays (the detectron2 copies of
    the Swin weights hold torch tensors, whose storages are read with ``torch.load(weights_only=True)``),
    so every other global is refused.
    """

    def find_class(self, module: str, name: str) -> Any:
        """The allowed callable for ``module.name``; raises ``pickle.UnpicklingError`` for anything else."""
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(
            f"refusing to load '{module}.{name}': weight files may only contain dicts, strings, numbers, "
            "numpy arrays and tensors."
        )


def read_weights_file(path: PathLike) -> Any:
    """The object stored in ``path``: ``.pkl`` via :class:`RestrictedUnpickler` (``encoding="latin1"``,
    as detectron2), anything else via ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file.")
    if path.suffix == ".pkl" and not zipfile.is_zipfile(path):
        with path.open("rb") as f:
            try:
                return RestrictedUnpickler(f, encoding="latin1").load()
            except (pickle.UnpicklingError, EOFError, ValueError) as err:
                raise ValueError(f"{path}: cannot read this pickle safely: {err}") from err
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 (torch raises several types)
        raise ValueError(
            f"{path}: cannot read it with torch.load(weights_only=True): {err}. Published detectron2 "
            "weights end in .pkl; torchvision and Swin weights in .pth."
        ) from err


def to_tensor(value: Any, key: str, path: PathLike) -> Tensor:
    """``value`` (numpy array or tensor) as a CPU tensor that owns its memory."""
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    raise TypeError(f"{path}: entry '{key}' is a {type(value).__name__}, not an array or tensor.")


def extract_state_dict(obj: Any, path: PathLike) -> dict[str, Tensor]:
    """The name -> tensor mapping in a loaded file: its ``model``, ``state_dict`` or ``blobs`` entry, or the dict
    itself; numpy arrays become tensors and a ``module.`` prefix (DistributedDataParallel) is removed."""
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict of weights, found {type(obj).__name__}.")
    for key in ("model", "state_dict", "blobs"):  # detectron2 / mmengine / Caffe2
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not obj:
        raise ValueError(f"{path}: the checkpoint holds no weights.")
    out = {}
    for key, value in obj.items():
        name = key[len("module."):] if key.startswith("module.") else key
        out[name] = to_tensor(value, key, path)
    return out


# --- formats --------------------------------------------------------------------------------------

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
RESNET_KEY = re.compile(rf"(stem\.conv[1-3]|res[2-5]\.\d+\.(conv[1-3]|shortcut))\.(weight|norm\.{_BN})")
RESNET_UNUSED = re.compile(r"(stem\.)?fc\d*\.(weight|bias)")  # the ImageNet classifier
_WB = r"(weight|bias)"
SWIN_KEY = re.compile(
    rf"patch_embed\.(proj|norm)\.{_WB}|absolute_pos_embed|norm[0-3]\.{_WB}"
    rf"|layers\.\d+\.downsample\.(reduction\.weight|norm\.{_WB})"
    rf"|layers\.\d+\.blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.{_WB}"
    r"|layers\.\d+\.blocks\.\d+\.attn\.relative_position_(bias_table|index)"
)
SWIN_UNUSED = re.compile(rf"layers\.\d+\.blocks\.\d+\.attn_mask|norm\.{_WB}|head\.{_WB}")
CAFFE2_HINT = re.compile(r"(^|_)(conv1_w|res\d_\d+_branch\w+|fc1000_\w)$")


@dataclass
class BackboneWeights:
    """Backbone weights under our names, with the source keys that no backbone uses."""

    state: dict[str, Tensor]
    source_format: str
    unused: list[str] = field(default_factory=list)
    source: str = "<state dict>"


def _torchvision_to_d2(key: str) -> str:
    """detectron2's torchvision rename: ``layer{i}`` -> ``res{i+1}``, ``bn{k}`` -> ``conv{k}.norm``,
    ``downsample.{0,1}`` -> ``shortcut(.norm)``, anything outside the stages under ``stem.``."""
    m = re.fullmatch(r"layer([1-4])\.(\d+)\.(.+)", key)
    head, rest = (f"res{int(m[1]) + 1}.{m[2]}.", m[3]) if m else ("stem.", key)
    rest = re.sub(r"^bn(\d)\.", r"conv\1.norm.", rest)
    rest = re.sub(r"^downsample\.0\.", "shortcut.", rest)
    rest = re.sub(r"^downsample\.1\.", "shortcut.norm.", rest)
    return head + rest


def detect_format(state: dict[str, Tensor], path: PathLike) -> str:
    """``"torchvision"``, ``"detectron2"`` (ResNet in our names) or ``"swin"``; raises if unknown."""
    keys = list(state)
    if any(CAFFE2_HINT.search(k) for k in keys):
        raise ValueError(
            f"{path}: this is a Caffe2 (MSRA) ResNet file; the papers use the torchvision weights "
            "(detectron2 ImageNetPretrained/torchvision/R-50.pkl). Convert torchvision weights instead."
        )
    if any(k.startswith(("layer1.", "bn1.")) for k in keys):
        return "torchvision"
    if any(k.startswith(("stem.", "res2.")) for k in keys):
        return "detectron2"
    if any(k.startswith(("patch_embed.", "layers.")) for k in keys):
        return "swin"
    raise ValueError(f"{path}: not a known backbone format (first keys: {keys[:5]}). Expected torchvision "
                     "ResNet, detectron2 R-50/101/103.pkl, official Swin weights or a model with backbone.*.")


def select_prefix(state: dict[str, Tensor], prefix: Optional[str], path: PathLike) -> dict[str, Tensor]:
    """Keys under ``prefix`` with it removed (``prefix=None``: ``backbone.`` if the file is a full
    model, else every key)."""
    if prefix is None:
        prefix = "backbone." if any(k.startswith("backbone.") for k in state) else ""
    picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not picked:
        raise KeyError(f"{path}: no key starts with prefix '{prefix}'.")
    return picked


def convert_backbone_state(
    state: dict[str, Tensor], source: PathLike = "<state dict>", prefix: Optional[str] = None
) -> BackboneWeights:
    """Our backbone names for ``state`` in any supported format; raises naming every unknown key."""
    state = select_prefix(state, prefix, source)
    fmt = detect_format(state, source)
    rename = _torchvision_to_d2 if fmt == "torchvision" else str
    key_re, unused_re = (SWIN_KEY, SWIN_UNUSED) if fmt == "swin" else (RESNET_KEY, RESNET_UNUSED)
    ours, unused, unknown = {}, [], []
    for key, value in state.items():  # unused / unknown keys are reported by their names in the file
        name = rename(key)
        if key_re.fullmatch(name):
            ours[name] = value
        elif unused_re.fullmatch(name):
            unused.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f"{source}: {len(unknown)} keys are not part of a {fmt} backbone: {sorted(unknown)}")
    return BackboneWeights(ours, fmt, sorted(unused), str(source))


def read_backbone_weights(path: PathLike, prefix: Optional[str] = None) -> BackboneWeights:
    """Read and convert a backbone weight file (see the module docstring for the formats)."""
    state = extract_state_dict(read_weights_file(path), path)
    return convert_backbone_state(state, path, prefix)


# --- segformers checkpoints ----------------------------------------------------------------------

def read_checkpoint(path: PathLike) -> tuple[dict[str, Tensor], dict]:
    """``(state dict, meta)`` of a checkpoint saved by segformers (``torch.load(weights_only=True)``).

    Accepts plain state dicts (``meta`` is then ``{}``) and dicts holding one under ``state_dict`` or
    ``model``; a ``module.`` prefix (DistributedDataParallel) is removed. ``meta`` is the file's ``meta``
    entry (a training run stores ``dataset_meta`` there)."""
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    meta = obj.get("meta") if isinstance(obj, dict) and isinstance(obj.get("meta"), dict) else {}
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(obj).__name__}.")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}, meta


def load_state_dict_file(path: PathLike) -> dict[str, Tensor]:
    """The state dict of a checkpoint saved by segformers (see :func:`read_checkpoint`)."""
    return read_checkpoint(path)[0]


@dataclass
class StateDictFit:
    """How a checkpoint's state dict fits a model's: keys the checkpoint lacks, keys the model lacks, and
    keys of both with different shapes (``"name: checkpoint (a, b) vs model (c, d)"``)."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def report(self, limit: int = 20) -> str:
        """One line per kind of problem, each listing up to ``limit`` keys."""
        lines = []
        for what, keys in (("missing from the checkpoint", self.missing),
                           ("unexpected (not in the model)", self.unexpected),
                           ("shape mismatches", self.mismatched)):
            if keys:
                more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
                lines.append(f"  {what} ({len(keys)}): {', '.join(keys[:limit])}{more}")
        return "\n".join(lines)


def state_dict_fit(model_state: Mapping[str, Any], checkpoint_state: Mapping[str, Any]) -> StateDictFit:
    """Compare a checkpoint's state dict (``module.`` prefixes already removed) with the model's."""
    fit = StateDictFit()
    for key, value in checkpoint_state.items():
        if key not in model_state:
            fit.unexpected.append(key)
            continue
        have, want = tuple(getattr(value, "shape", ())), tuple(model_state[key].shape)
        if have != want:
            fit.mismatched.append(f"{key}: checkpoint {have} vs model {want}")
    fit.missing = [key for key in model_state if key not in checkpoint_state]
    return fit


def load_weights(model: torch.nn.Module, state: dict[str, Tensor], strict: bool = True) -> None:
    """``load_state_dict`` that names missing, unexpected and shape-mismatched keys."""
    fit = state_dict_fit(model.state_dict(), state)
    if fit.mismatched or (strict and (fit.missing or fit.unexpected)):
        raise RuntimeError(
            "Checkpoint does not fit the model.\n"
            f"  missing keys ({len(fit.missing)}): {fit.missing}\n"
            f"  unexpected keys ({len(fit.unexpected)}): {fit.unexpected}\n"
            f"  shape mismatches ({len(fit.mismatched)}): {fit.mismatched}"
        )
    model.load_state_dict(state, strict=strict)
