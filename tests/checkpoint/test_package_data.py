"""What the package reads at run time ships with it: a wheel built from the tree (a non-editable install)
holds the base model configs that ``segformers.checkpoint.official`` infers configs from."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
import os, sys
import segformers
from segformers.checkpoint.official import BASE_CONFIGS, base_model_config
assert segformers.__file__.startswith(sys.argv[1]), segformers.__file__
for family in ("mask2former", "maskformer"):
    for backbone, kind in (("r50", "ResNet"), ("swin-t", "SwinTransformer")):
        path = BASE_CONFIGS / f"{family}_{backbone}.py"
        assert path.is_file() and not os.path.islink(path), path
        assert base_model_config(family, backbone)["backbone"]["type"] == kind
print("ok", BASE_CONFIGS)
"""


def test_a_built_wheel_ships_the_base_model_configs(tmp_path):
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "segformers", src / "segformers", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "configs" / "_base_", src / "configs" / "_base_", ignore=ignore)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    build = "from setuptools import build_meta; import sys; print(build_meta.build_wheel(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", build, str(tmp_path / "dist")], cwd=src, capture_output=True,
                         text=True, check=True)
    wheel = tmp_path / "dist" / out.stdout.strip().splitlines()[-1]
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site))  # the installed copy, not the tree
    res = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok " + str(site))
