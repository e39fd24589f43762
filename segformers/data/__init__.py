"""segformers.data: datasets, transforms, the model-side data preprocessor and the toy-dataset generator.

Importing this package registers every dataset in ``DATASETS`` and every transform in ``TRANSFORMS``.
"""
from . import data_preprocessor, datasets, transforms  # noqa: F401  (registration)
from .datasets import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
