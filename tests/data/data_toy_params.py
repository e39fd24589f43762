"""Parameters of the session toy dataset (see ``conftest.py``)."""
TOY_SIZE = (64, 96)  # not square, so a swapped H / W shows up
TOY_COUNTS = dict(num_train=8, num_val=6)
TOY_SEED = 14  # its 6 val scenes include an image without instances and crowd segments
