# Mask2Former R50, Table 5 of the paper: matching on masks, loss on points (num_points=None: whole masks).
_base_ = ["../../../../configs/_base_/models/mask2former_r50.py"]
model = dict(criterion=dict(matcher=dict(num_points=None)))
