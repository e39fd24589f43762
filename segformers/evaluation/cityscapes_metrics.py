"""Cityscapes' official evaluation (``cityscapesscripts``) behind mmengine metrics.

The metrics keep compact predictions (PNG bytes, RLE masks) in ``process``; on rank 0 they write the files
cityscapesscripts expects into a temporary directory and call its evaluation functions on exactly the
processed images. Per data sample they read metainfo ``img_path`` (a ``<city>_<seq>_<frame>_leftImg8bit``
file name; the stem pairs the prediction with its ground truth) and

* ``CityscapesSemSegMetric``: ``pred['sem_seg']`` (``[K, H, W]`` scores or ``[H, W]`` labels); ground
  truth ``<gt_dir>/<city>/<stem>_gtFine_labelIds.png`` (+ ``_instanceIds.png`` for iIoU);
* ``CityscapesInstanceMetric``: ``pred['instances']`` (``scores``, ``labels``, ``masks``); ground truth
  ``<gt_dir>/<city>/<stem>_gtFine_instanceIds.png``;
* ``CityscapesPanopticMetric``: ``pred['panoptic_seg']``; ground truth ``gt_json`` /
  ``gt_folder`` (``cityscapes_panoptic_val.json`` and its PNG folder from ``createPanopticImgs``).

Contiguous labels map to Cityscapes label ids by class name (``dataset_meta['classes']``, e.g. "road",
"traffic light"); without names the labels are taken as Cityscapes train ids. All scores are percentages.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import os.path as osp
import tempfile
import types
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from PIL import Image

from ..registry import METRICS
from .coco_metric import encode_instances
from .utils import as_dict, image_stem, label_map, prediction, unpack_panoptic


def png_bytes(array: np.ndarray) -> bytes:
    """Lossless PNG encoding of a uint8 ``[H, W]`` or ``[H, W, 3]`` array."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


class _NumpyCompat(types.ModuleType):
    """numpy plus ``in1d`` (removed in numpy 2.4, still called by cityscapesscripts 2.2)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False) -> np.ndarray:
        return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)


def _write_json(content: Any, path: str) -> None:
    """cityscapesscripts' ``writeDict2JSON`` that also serialises numpy scalars (numpy 2 returns them)."""
    with open(path, "w") as f:
        json.dump(content, f, default=lambda o: o.item() if isinstance(o, np.generic) else o.__dict__)


def cityscapes_compat(module: types.ModuleType) -> types.ModuleType:
    """Make a cityscapesscripts evaluation module run on numpy 2.4: only that module's globals change.

    Its ``np`` becomes numpy plus the removed ``in1d``; its ``writeDict2JSON`` accepts numpy scalars.
    """
    if not hasattr(np, "in1d") and getattr(module, "np", None) is np:
        module.np = _NumpyCompat("numpy")
    if hasattr(module, "writeDict2JSON"):
        module.writeDict2JSON = _write_json
    return module


def run_cityscapes(fn: Callable[[], Any], cwd: str) -> Any:
    """Call a cityscapesscripts function quietly inside ``cwd``; its ``sys.exit`` becomes an error."""
    buffer, old_cwd = io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd)  # instance evaluation writes matches.json into the working directory
        with contextlib.redirect_stdout(buffer):
            return fn()
    except SystemExit as exc:
        raise RuntimeError(f"cityscapesscripts evaluation failed:\n{buffer.getvalue()[-2000:]}") from exc
    finally:
        os.chdir(old_cwd)
        print_log(buffer.getvalue()[-4000:], logger="current", level=logging.DEBUG)


class _CityscapesMetric(BaseMetric):
    """Shared label mapping and ground-truth lookup."""

    def label_ids(self, num_labels: int) -> list[int]:
        """Cityscapes label id of each of ``num_labels`` contiguous labels (by name, else as train id)."""
        from cityscapesscripts.helpers.labels import name2label, trainId2label

        names = (self.dataset_meta or {}).get("classes")
        if names is not None:
            unknown = [n for n in names if n not in name2label]
            if unknown:
                raise KeyError(f"Class names {unknown} are not Cityscapes label names (cityscapesscripts.helpers.labels).")
            ids = [name2label[n].id for n in names]
        else:
            ids = [trainId2label[k].id for k in range(min(num_labels, 19))]
        if num_labels > len(ids):
            raise ValueError(
                f"Predicted label {num_labels - 1} has no Cityscapes label id ({len(ids)} classes known); "
                f"set dataset_meta['classes'] to Cityscapes class names."
            )
        return ids

    def gt_file(self, gt_dir: str, stem: str, suffix: str) -> str:
        """``<gt_dir>/<city>/<stem><suffix>``, checked to exist."""
        path = osp.join(gt_dir, stem.split("_")[0], stem + suffix)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"Ground truth {path} not found. gt_dir must be the split folder (e.g. data/cityscapes/gtFine/val) "
                f"and img_path a <city>_<seq>_<frame>_leftImg8bit file."
            )
        return path


@METRICS.register_module()
class CityscapesSemSegMetric(_CityscapesMetric):
    """Cityscapes ``IoU``, ``iIoU`` (classes) and ``IoU_sup``, ``iIoU_sup`` (categories), percent.

    Args:
        gt_dir: the ``gtFine/<split>`` folder.
    """

    default_prefix: Optional[str] = "cityscapes"

    def __init__(self, gt_dir: str, collect_device: str = "cpu", prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.gt_dir = gt_dir

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each prediction as a PNG of Cityscapes label ids."""
        for raw in data_samples:
            sample = as_dict(raw)
            pred = label_map(prediction(sample, "sem_seg", type(self).__name__), "pred['sem_seg']").cpu().numpy()
            lut = np.asarray(self.label_ids(int(pred.max()) + 1), dtype=np.uint8)  # contiguous -> label id
            self.results.append((image_stem(sample), png_bytes(lut[pred])))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Write the PNGs and run ``evalPixelLevelSemanticLabeling.evaluateImgLists``."""
        from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling

        cs_eval = cityscapes_compat(evalPixelLevelSemanticLabeling)

        with tempfile.TemporaryDirectory() as tmp:
            preds, gts = [], []
            for stem, data in results:
                preds.append(osp.join(tmp, f"{stem}_pred.png"))
                with open(preds[-1], "wb") as f:
                    f.write(data)
                gts.append(self.gt_file(self.gt_dir, stem, "_gtFine_labelIds.png"))
            args = copy.copy(cs_eval.args)
            args.predictionPath, args.predictionWalk = tmp, None
            args.JSONOutput, args.quiet, args.colorized, args.bold, args.nocol = False, True, False, "", ""
            args.evalInstLevelScore, args.evalPixelAccuracy = True, False
            res = run_cityscapes(lambda: cs_eval.evaluateImgLists(preds, gts, args), tmp)
        return {
            "IoU": 100 * float(res["averageScoreClasses"]),
            "iIoU": 100 * float(res["averageScoreInstClasses"]),
            "IoU_sup": 100 * float(res["averageScoreCategories"]),
            "iIoU_sup": 100 * float(res["averageScoreInstCategories"]),
        }


@METRICS.register_module()
class CityscapesInstanceMetric(_CityscapesMetric):
    """Cityscapes instance ``AP`` and ``AP50`` (percent).

    Args:
        gt_dir: the ``gtFine/<split>`` folder.
    """

    default_prefix: Optional[str] = "cityscapes"

    def __init__(self, gt_dir: str, collect_device: str = "cpu", prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.gt_dir = gt_dir

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each image's instances as RLEs."""
        for raw in data_samples:
            sample = as_dict(raw)
            encoded = encode_instances(prediction(sample, "instances", type(self).__name__))
            self.results.append((image_stem(sample), encoded))

    def _write_image(self, tmp: str, stem: str, encoded: dict, label_ids: list[int]) -> str:
        lines = []
        for i, (score, label, rle) in enumerate(zip(encoded["scores"], encoded["labels"], encoded["rles"])):
            if not 0 <= label < len(label_ids):
                raise ValueError(f"Predicted label {label} is outside the {len(label_ids)} known classes.")
            mask = mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
            name = f"{stem}_{i}.png"
            Image.fromarray(mask * 255).save(osp.join(tmp, name))
            lines.append(f"{name} {label_ids[label]} {float(score)}\n")
        path = osp.join(tmp, f"{stem}_pred.txt")
        with open(path, "w") as f:
            f.writelines(lines)
        return path

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Write masks and per-image lists, run ``evalInstanceLevelSemanticLabeling.evaluateImgLists``."""
        from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling

        cs_eval = cityscapes_compat(evalInstanceLevelSemanticLabeling)

        num_labels = max([len((self.dataset_meta or {}).get("classes") or [])] +
                         [int(e["labels"].max()) + 1 for _, e in results if len(e["labels"])])
        label_ids = self.label_ids(num_labels)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = osp.realpath(tmp)
            preds = [self._write_image(tmp, stem, enc, label_ids) for stem, enc in results]
            gts = [self.gt_file(self.gt_dir, stem, "_gtFine_instanceIds.png") for stem, _ in results]
            args = copy.copy(cs_eval.args)
            args.predictionPath, args.predictionWalk = tmp, None
            args.gtInstancesFile = osp.join(tmp, "gtInstances.json")
            args.JSONOutput, args.quiet, args.colorized, args.csv = False, True, False, False
            res = run_cityscapes(lambda: cs_eval.evaluateImgLists(preds, gts, args), tmp)["averages"]
        return {"AP": 100 * float(res["allAp"]), "AP50": 100 * float(res["allAp50%"])}


@METRICS.register_module()
class CityscapesPanopticMetric(_CityscapesMetric):
    """Cityscapes ``PQ``, ``SQ``, ``RQ`` overall, things (``_th``) and stuff (``_st``), percent.

    Args:
        gt_json: ``cityscapes_panoptic_<split>.json``; only the processed images' entries are used.
        gt_folder: the folder of its panoptic PNGs.
    """

    default_prefix: Optional[str] = "cityscapes"

    def __init__(self, gt_json: str, gt_folder: str, collect_device: str = "cpu", prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.gt_json, self.gt_folder = gt_json, gt_folder

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each id map as an RGB PNG (``id = R + 256 G + 256^2 B``) with its segments."""
        for raw in data_samples:
            sample = as_dict(raw)
            id_map, segments = unpack_panoptic(prediction(sample, "panoptic_seg", type(self).__name__), "pred['panoptic_seg']")
            ids = id_map.cpu().numpy().astype(np.uint32)
            rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)
            segs = [{"id": int(s["id"]), "category_id": int(s["category_id"])} for s in segments]
            self.results.append((image_stem(sample), png_bytes(rgb), segs))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Write PNGs and JSONs, run ``evalPanopticSemanticLabeling.evaluatePanoptic``."""
        from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as cs_eval

        with open(self.gt_json) as f:
            gt = json.load(f)
        stems = {stem for stem, _, _ in results}
        known = {a["image_id"] for a in gt["annotations"]}
        if stems - known:
            raise KeyError(f"Images {sorted(stems - known)[:5]} are not in {self.gt_json}.")
        gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in stems]
        gt["images"] = [i for i in gt.get("images", []) if i.get("id") in stems]
        num_labels = max([len((self.dataset_meta or {}).get("classes") or [])] +
                         [s["category_id"] + 1 for _, _, segs in results for s in segs])
        label_ids = self.label_ids(num_labels)
        with tempfile.TemporaryDirectory() as tmp:
            anns = []
            for stem, data, segs in results:
                with open(osp.join(tmp, f"{stem}_panoptic.png"), "wb") as f:
                    f.write(data)
                segs = [{"id": s["id"], "category_id": label_ids[s["category_id"]]} for s in segs]
                anns.append({"image_id": stem, "file_name": f"{stem}_panoptic.png", "segments_info": segs})
            for name, content in (("gt.json", gt), ("pred.json", {"annotations": anns})):
                with open(osp.join(tmp, name), "w") as f:
                    json.dump(content, f)
            res = run_cityscapes(lambda: cs_eval.evaluatePanoptic(
                osp.join(tmp, "gt.json"), self.gt_folder, osp.join(tmp, "pred.json"), tmp,
                osp.join(tmp, "results.json")), tmp)
        out = {}
        for key, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
            out.update({f"{m.upper()}{suffix}": 100 * float(res[key][m]) for m in ("pq", "sq", "rq")})
        return out
