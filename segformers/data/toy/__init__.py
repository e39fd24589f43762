"""The synthetic toy datasets: a seeded scene generator (:mod:`.scene`) and a writer of the real datasets'
layouts (:mod:`.layouts`), used by ``tools/make_toy_dataset.py`` and the tests.

Nothing at run time imports this package: the toy data is read by the ordinary dataset classes.
"""
from .layouts import LAYOUTS, TOY_TO_CITYSCAPES, write_toy_dataset
from .scene import TOY_CLASSES, TOY_IS_THING, TOY_PALETTE, TOY_STUFF, TOY_THINGS, ToyScene, ToySegment, make_scene

__all__ = [
    "LAYOUTS", "TOY_CLASSES", "TOY_IS_THING", "TOY_PALETTE", "TOY_STUFF", "TOY_THINGS", "TOY_TO_CITYSCAPES",
    "ToyScene", "ToySegment", "make_scene", "write_toy_dataset",
]
