# Swin backbones (official.md §2.6): drop-path 0.3 for every size, per-output LayerNorms, patch 4.
_out = ["res2", "res3", "res4", "res5"]
swin_t = dict(type="SwinTransformer", embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
              window_size=7, pretrain_img_size=224, drop_path_rate=0.3, out_features=_out)
swin_s = dict(type="SwinTransformer", embed_dim=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
              window_size=7, pretrain_img_size=224, drop_path_rate=0.3, out_features=_out)
swin_b = dict(type="SwinTransformer", embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
              window_size=12, pretrain_img_size=384, drop_path_rate=0.3, out_features=_out)
swin_l = dict(type="SwinTransformer", embed_dim=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48],
              window_size=12, pretrain_img_size=384, drop_path_rate=0.3, out_features=_out)
