"""Swin Transformer backbone as used by MaskFormer / Mask2Former (``D2SwinTransformer``).

State-dict names follow the official code: ``patch_embed.{proj,norm}``,
``layers.{s}.blocks.{b}.{norm1, attn.qkv, attn.proj, attn.relative_position_bias_table,
attn.relative_position_index, norm2, mlp.fc1, mlp.fc2}``, ``layers.{s}.downsample.{reduction,norm}`` and
one LayerNorm per output, ``norm0..norm3``. Any input size works: the image is padded to the patch
size and each block pads its map to a multiple of the window size.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segformers.registry import BACKBONES
from segformers.structures import ShapeSpec

from ..layers.tracing import tracing

STAGE_NAMES = ("res2", "res3", "res4", "res5")
MASK_VALUE = -100.0  # the official shifted-window mask value (not -inf)


def relative_position_index(window_size: int) -> Tensor:
    """Index ``[N, N]`` (``N = ws*ws``) into the ``[(2ws-1)^2, heads]`` relative-position bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    coords = coords.flatten(1)  # [2, N]
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)  # [N, N, 2]
    return rel[..., 0] * (2 * window_size - 1) + rel[..., 1]


def shifted_window_mask(height: int, width: int, window_size: int, shift: int,
                        device: torch.device) -> Tensor:
    """Additive mask ``[nW, N, N]`` (0 / -100) that stops attention across the cyclic-shift seams.

    ``height``/``width`` are already multiples of ``window_size``; windows are ordered row-major.
    """
    def regions(n: int) -> Tensor:
        idx = torch.arange(n, device=device)
        return (idx >= n - window_size).long() + (idx >= n - shift).long()

    ids = regions(height)[:, None] * 3 + regions(width)[None, :]  # [Hp, Wp], 9 regions
    ids = ids.view(height // window_size, window_size, width // window_size, window_size)
    ids = _copy(ids.permute(0, 2, 1, 3)).view(-1, window_size * window_size)  # [nW, N]
    same = ids[:, :, None] == ids[:, None, :]
    return torch.zeros(same.shape, device=device).masked_fill_(~same, MASK_VALUE)


def _copy(x: Tensor) -> Tensor:
    """A contiguous copy, always (``contiguous()`` returns ``x`` itself when it already is)."""
    return x.clone(memory_format=torch.contiguous_format)


def drop_path(x: Tensor, prob: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples with probability ``prob`` and rescale the rest."""
    if prob == 0.0 or not training:
        return x
    keep = 1.0 - prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class PatchEmbed(nn.Module):
    """Pad to the patch size, ``Conv2d(k=s=patch)`` and LayerNorm: ``[B, 3, H, W] -> [B, H/p, W/p, C]``."""

    def __init__(self, *, patch_size: int, embed_dim: int, patch_norm: bool) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if patch_norm else None

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        if x.shape[-1] % p or x.shape[-2] % p:  # a branch, not a zero pad, keeps export's sizes simple
            x = F.pad(x, (0, (p - x.shape[-1] % p) % p, 0, (p - x.shape[-2] % p) % p))
        x = self.proj(x).permute(0, 2, 3, 1).contiguous()
        return x if self.norm is None else self.norm(x)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with a relative-position bias.

    ``[B, nW, N, C] -> [B, nW, N, C]``; ``mask`` ``[nW, N, N]`` is the additive shifted-window mask.
    Runs ``F.scaled_dot_product_attention`` with bias (+ mask) as a float attention mask.
    """

    def __init__(self, *, dim: int, num_heads: int, window_size: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"WindowAttention: dim {dim} is not divisible by num_heads {num_heads}.")
        self.num_heads = num_heads
        self.window_size = window_size
        self.attn_drop = attn_drop
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def relative_bias(self) -> Tensor:
        """The bias ``[heads, N, N]`` gathered from the table."""
        n = self.window_size * self.window_size
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(n, n, self.num_heads).permute(2, 0, 1)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        b, nw, n, c = x.shape
        h = self.num_heads
        qkv = self.qkv(x).view(b, nw, n, 3, h, c // h).permute(3, 0, 1, 4, 2, 5)  # [3, B, nW, h, N, d]
        bias = self.relative_bias()
        if mask is None:  # one bias for every window: fold windows into the batch
            q, k, v = qkv.reshape(3, b * nw, h, n, c // h).unbind(0)
            attn_mask = bias.unsqueeze(0)
        else:  # a different mask per window: fold windows into the heads, broadcast over the batch
            q, k, v = qkv.reshape(3, b, nw * h, n, c // h).unbind(0)
            attn_mask = (bias.unsqueeze(0) + mask.unsqueeze(1)).reshape(1, nw * h, n, n)
        out = F.scaled_dot_product_attention(
            # the mask expanded to q's batch (a view): broadcasting it would make export guard on that size
            q, k, v, attn_mask=attn_mask.to(q.dtype).expand(q.shape[0], -1, -1, -1),
            dropout_p=self.attn_drop if self.training else 0.0,
        )
        out = _copy(out.view(b, nw, h, n, c // h).permute(0, 1, 3, 2, 4)).view(b, nw, n, c)
        return self.proj_drop(self.proj(out))


class SwinMlp(nn.Module):
    """``fc1 -> GELU -> dropout -> fc2 -> dropout`` on ``[..., C]``."""

    def __init__(self, *, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class SwinBlock(nn.Module):
    """(Shifted-)window attention block: ``[B, H, W, C] -> [B, H, W, C]`` (pre-norm, two residuals)."""

    def __init__(self, *, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float, drop_path: float) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.drop_path = drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim=dim, num_heads=num_heads, window_size=window_size,
                                    qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = SwinMlp(dim=dim, hidden_dim=int(dim * mlp_ratio), drop=drop)

    def forward(self, x: Tensor, mask: Optional[Tensor]) -> Tensor:
        b, h, w, c = x.shape
        ws, s = self.window_size, self.shift_size
        y = F.pad(self.norm1(x), (0, 0, 0, (ws - w % ws) % ws, 0, (ws - h % ws) % ws))  # >= 0 operands only
        hp, wp = y.shape[1:3]
        if s > 0:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        # window partition with an explicit copy: a reshape would decide copy-or-view by the window
        # count (one window across = no copy), a branch torch.export cannot keep dynamic
        y = _copy(y.reshape(b, hp // ws, ws, wp // ws, ws, c).transpose(2, 3)).view(b, -1, ws * ws, c)
        y = self.attn(y, mask if s > 0 else None)
        y = _copy(y.reshape(b, hp // ws, wp // ws, ws, ws, c).transpose(2, 3)).view(b, hp, wp, c)
        if s > 0:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + drop_path(y[:, :h, :w], self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift_size={self.shift_size}, drop_path={self.drop_path:.3f}"


class PatchMerging(nn.Module):
    """Concatenate 2x2 neighbours, LayerNorm, linear: ``[B, H, W, C] -> [B, ceil(H/2), ceil(W/2), 2C]``."""

    def __init__(self, *, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] % 2 or x.shape[2] % 2:
            x = F.pad(x, (0, 0, 0, x.shape[2] % 2, 0, x.shape[1] % 2))
        b, h, w, c = x.shape
        # the 2x2 neighbours (0,0), (1,0), (0,1), (1,1) side by side; a view keeps export's sizes h // 2
        x = x.view(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """``depth`` blocks alternating regular / shifted windows, then optional patch merging.

    ``forward(x [B, H, W, C]) -> (stage output [B, H, W, C], input of the next stage)``. The shift mask
    depends only on the padded size; it is built once per stage call and cached per (size, device).
    """

    def __init__(self, *, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float, drop_paths: Sequence[float],
                 downsample: bool) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2
        self.blocks = nn.ModuleList(
            SwinBlock(dim=dim, num_heads=num_heads, window_size=window_size,
                      shift_size=0 if i % 2 == 0 else self.shift_size, mlp_ratio=mlp_ratio,
                      qkv_bias=qkv_bias, drop=drop, attn_drop=attn_drop, drop_path=drop_paths[i])
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim=dim) if downsample else None
        self._mask_cache: dict[tuple, Tensor] = {}

    def shift_mask(self, height: int, width: int, device: torch.device) -> Optional[Tensor]:
        """Cached :func:`shifted_window_mask` for a ``height x width`` map (``None`` if nothing shifts)."""
        if len(self.blocks) < 2 or self.shift_size == 0:
            return None
        ws = self.window_size
        hp, wp = (height + ws - 1) // ws * ws, (width + ws - 1) // ws * ws  # ONNX divides toward 0
        if tracing():  # no cache keyed by symbolic sizes
            return shifted_window_mask(hp, wp, ws, self.shift_size, device)
        key = (hp, wp, str(device))
        if key not in self._mask_cache:
            if len(self._mask_cache) >= 8:
                self._mask_cache.pop(next(iter(self._mask_cache)))
            self._mask_cache[key] = shifted_window_mask(hp, wp, ws, self.shift_size, device)
        return self._mask_cache[key]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mask = self.shift_mask(x.shape[1], x.shape[2], x.device)
        for block in self.blocks:
            x = block(x, mask)
        return x, (x if self.downsample is None else self.downsample(x))


@BACKBONES.register_module()
class SwinTransformer(nn.Module):
    """Swin Transformer backbone (Swin-T/S/B/L): ``x [B, 3, H, W] -> {"res2": [B, C, H/4, W/4], ...,
    "res5": [B, 8C, H/32, W/32]}`` restricted to ``out_features``; each output goes through ``norm{i}``.

    ``frozen_stages``: -1 nothing, 0 patch embedding, 1 + absolute position embedding, k >= 2 also
    ``layers[0..k-2]`` (official semantics; frozen parts stay in eval mode).
    """

    # a small instance for the contract test (segformers.testing)
    tiny_config = dict(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), window_size=4)

    def __init__(
        self,
        *,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        patch_size: int = 4,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.3,
        ape: bool = False,
        pretrain_img_size: int = 224,
        patch_norm: bool = True,
        frozen_stages: int = -1,
        out_features: Sequence[str] = STAGE_NAMES,
    ) -> None:
        super().__init__()
        self._check_args(depths, num_heads, out_features, frozen_stages)
        self.out_features = list(out_features)
        self.frozen_stages = frozen_stages
        self.size_divisibility = 1  # any input size works: the patch embedding and the windows pad
        self.patch_embed = PatchEmbed(patch_size=patch_size, embed_dim=embed_dim, patch_norm=patch_norm)
        self.ape = ape
        if ape:
            grid = pretrain_img_size // patch_size
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, grid, grid))
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(drop_rate)
        total = sum(depths)
        rates = [drop_path_rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
        dims = [embed_dim * 2**i for i in range(4)]
        self.layers = nn.ModuleList(
            SwinStage(dim=dims[i], depth=depths[i], num_heads=num_heads[i], window_size=window_size,
                      mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop=drop_rate, attn_drop=attn_drop_rate,
                      drop_paths=rates[sum(depths[:i]): sum(depths[: i + 1])], downsample=i < 3)
            for i in range(4)
        )
        for i in range(4):
            self.add_module(f"norm{i}", nn.LayerNorm(dims[i]))
        self._shapes = {n: ShapeSpec(dims[i], patch_size * 2**i) for i, n in enumerate(STAGE_NAMES)
                        if n in self.out_features}
        self._freeze_stages()

    def output_shape(self) -> dict[str, ShapeSpec]:
        """``{name: ShapeSpec(channels, stride)}`` of every output in ``out_features``."""
        return dict(self._shapes)

    @staticmethod
    def _check_args(depths: Sequence[int], num_heads: Sequence[int], out_features: Sequence[str],
                    frozen_stages: int) -> None:
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f"SwinTransformer: depths {list(depths)} and num_heads {list(num_heads)} need "
                             "4 entries each (res2..res5).")
        bad = [f for f in out_features if f not in STAGE_NAMES]
        if bad or not out_features:
            raise ValueError(f"SwinTransformer: out_features {list(out_features)} must be a non-empty subset "
                             f"of {list(STAGE_NAMES)}.")
        if not -1 <= frozen_stages <= 5:
            raise ValueError(f"SwinTransformer: frozen_stages must be in [-1, 5], got {frozen_stages}.")

    def _frozen_modules(self) -> list[nn.Module]:
        mods: list[nn.Module] = [self.patch_embed] if self.frozen_stages >= 0 else []
        if self.frozen_stages >= 2:
            mods += [self.pos_drop] + [self.layers[i] for i in range(self.frozen_stages - 1)]
        return mods

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        if self.frozen_stages >= 1 and self.ape:
            self.absolute_pos_embed.requires_grad = False

    def train(self, mode: bool = True) -> "SwinTransformer":
        """Switch mode but keep frozen stages in eval mode (official behaviour)."""
        super().train(mode)
        for m in self._frozen_modules():
            m.eval()
        return self

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"SwinTransformer expects images [B, 3, H, W], got shape {tuple(x.shape)}.")
        x = self.patch_embed(x)  # [B, Wh, Ww, C]
        if self.ape:
            pos = F.interpolate(self.absolute_pos_embed, size=x.shape[1:3], mode="bicubic")
            x = x + pos.permute(0, 2, 3, 1)
        x = self.pos_drop(x)
        outputs = {}
        last = max(STAGE_NAMES.index(f) for f in self.out_features)
        for i in range(last + 1):
            out, x = self.layers[i](x)
            name = STAGE_NAMES[i]
            if name in self.out_features:
                outputs[name] = getattr(self, f"norm{i}")(out).permute(0, 3, 1, 2).contiguous()
        return outputs
