"""PositionEmbeddingSine: DETR's formula; the unmasked encoding is cached per size and handed out as a copy."""
import math

import torch

from segformers.models.layers.position_encoding import PositionEmbeddingSine


def _detr_reference(h: int, w: int, feats: int, temperature: float = 10000.0) -> torch.Tensor:
    """One pixel at a time: normalized (y, x) in (0, 2 pi], sin on even and cos on odd channels."""
    out = torch.zeros(2 * feats, h, w, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            coords = ((i + 1) / (h + 1e-6) * 2 * math.pi, (j + 1) / (w + 1e-6) * 2 * math.pi)
            for half, c in enumerate(coords):
                for k in range(feats):
                    angle = c / temperature ** (2 * (k // 2) / feats)
                    out[half * feats + k, i, j] = math.sin(angle) if k % 2 == 0 else math.cos(angle)
    return out


def test_values_cache_and_copies():
    pe = PositionEmbeddingSine(num_pos_feats=6)
    x = torch.zeros(3, 5, 4, 7)
    first = pe(x)
    assert first.shape == (3, 12, 4, 7)
    torch.testing.assert_close(first[2].double(), _detr_reference(4, 7, 6), rtol=0, atol=1e-6)
    first.add_(1.0)  # the caller's copy: the cached encoding is not touched
    again = pe(x)
    torch.testing.assert_close(again + 1.0, first, rtol=0, atol=0)
    assert len(pe._unmasked) == 1 and pe(torch.zeros(1, 5, 2, 3)).shape == (1, 12, 2, 3)
    assert len(pe._unmasked) == 2


def test_a_mask_is_not_cached_and_matches_the_unmasked_encoding_where_nothing_is_padded():
    pe = PositionEmbeddingSine(num_pos_feats=4)
    x = torch.zeros(2, 1, 3, 5)
    mask = torch.zeros(2, 3, 5, dtype=torch.bool)
    mask[1, :, 3:] = True  # image 1: the last two columns are padding
    out = pe(x, mask)
    assert not pe._unmasked
    torch.testing.assert_close(out[0], pe(x)[0], rtol=0, atol=0)
    torch.testing.assert_close(out[1, :, :, :3].double(), _detr_reference(3, 3, 4)[..., :3], rtol=0, atol=1e-6)


def test_the_cache_keeps_only_the_most_recently_used_sizes():
    from segformers.models.layers.position_encoding import CACHED_SIZES

    pe = PositionEmbeddingSine(num_pos_feats=2)
    first = pe(torch.zeros(1, 1, 1, 1))
    for w in range(2, CACHED_SIZES + 1):
        pe(torch.zeros(1, 1, 1, w))
    pe(torch.zeros(1, 1, 1, 1))  # used again: now the most recent
    pe(torch.zeros(1, 1, 1, CACHED_SIZES + 1))  # evicts width 2, the least recently used
    keys = [k[:2] for k in pe._unmasked]
    assert len(keys) == CACHED_SIZES and (1, 2) not in keys and keys[-2:] == [(1, 1), (1, CACHED_SIZES + 1)]
    torch.testing.assert_close(pe(torch.zeros(1, 1, 1, 1)), first, rtol=0, atol=0)
