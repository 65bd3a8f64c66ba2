"""Belt-like training views made a whole batch at a time with tensor ops (on a GPU, or the CPU).

The views of ``model.augment`` (the item cut out, rotated, scaled and framed
the way the cell crops it, pasted on a background drawn independently of its
class, at camera resolution, under a random white balance and photometric
jitter) without a Python loop per image: the images live on the device and one
call makes a batch, so a GPU is not left waiting on the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from waste_sorting.model.augment import AugmentConfig

LOW_RES_LEVELS = 4  # camera resolutions a batch is rendered at (each view takes the nearest)
BLUR_TAPS = 7


@dataclass
class ImageBank:
    """Images and their item masks, resident on one device."""

    images: torch.Tensor  # N x 3 x H x W uint8 RGB
    masks: torch.Tensor   # N x 1 x H x W uint8
    boxes: torch.Tensor   # N x 4 float32: x0, y0, x1, y1 of the mask in pixels (the whole image if empty)
    labels: torch.Tensor  # N int64

    @classmethod
    def from_arrays(cls, images_bgr: np.ndarray, masks: np.ndarray, labels: np.ndarray,
                    device: torch.device | str) -> ImageBank:
        n, h, w = masks.shape
        boxes = np.tile(np.array([0, 0, w - 1, h - 1], np.float32), (n, 1))
        for i in range(n):
            ys, xs = np.nonzero(masks[i] > 127)
            if len(xs):
                boxes[i] = (xs.min(), ys.min(), xs.max(), ys.max())
        rgb = torch.from_numpy(np.ascontiguousarray(images_bgr[..., ::-1])).permute(0, 3, 1, 2)
        return cls(rgb.contiguous().to(device), torch.from_numpy(masks)[:, None].to(device),
                   torch.from_numpy(boxes).to(device), torch.from_numpy(labels).long().to(device))

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def _sample(src: torch.Tensor, centre: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, flip: torch.Tensor,
            size: int, padding: str) -> torch.Tensor:
    """``src`` (B x C x H x W float) resampled so that ``centre`` (B x 2, pixels) lands in the middle of a
    size x size view, rotated by ``angle`` (radians), magnified by ``scale`` and mirrored by ``flip``
    (B x 2 of +-1): one affine warp per view, as cv2.warpAffine does in model.augment."""
    h, w = src.shape[-2:]
    cos, sin = torch.cos(angle), torch.sin(angle)
    half = size / (2 * scale)  # input pixels from the view's centre to its edge
    theta = torch.stack([
        torch.stack([cos * flip[:, 0] * half * 2 / w, -sin * flip[:, 1] * half * 2 / w,
                     (centre[:, 0] + 0.5) * 2 / w - 1], 1),
        torch.stack([sin * flip[:, 0] * half * 2 / h, cos * flip[:, 1] * half * 2 / h,
                     (centre[:, 1] + 0.5) * 2 / h - 1], 1),
    ], 1)
    grid = F.affine_grid(theta, [src.shape[0], src.shape[1], size, size], align_corners=False)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Each view blurred by its own Gaussian (sigma per view, 0: unchanged), as one grouped convolution."""
    b, c, h, w = x.shape
    r = BLUR_TAPS // 2
    taps = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(taps[None] ** 2) / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))
    k = torch.where(sigma[:, None] > 0, k, (taps[None] == 0).to(x.dtype))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C) x taps
    flat = x.reshape(1, b * c, h, w)
    flat = F.conv2d(F.pad(flat, (r, r, 0, 0), mode="replicate"), k[:, None, None, :], groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, r, r), mode="replicate"), k[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def _hue_rotation(deg: torch.Tensor) -> torch.Tensor:
    """B x 3 x 3 rotations of RGB about the grey axis: a hue shift that keeps brightness."""
    a = deg * math.pi / 180
    cos, sin = torch.cos(a), torch.sin(a)
    third, root = 1 / 3, math.sqrt(1 / 3)
    eye = torch.eye(3, device=deg.device, dtype=deg.dtype)
    grey = torch.full((3, 3), third, device=deg.device, dtype=deg.dtype)
    cross = torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], device=deg.device, dtype=deg.dtype) * root
    return cos[:, None, None] * (eye - grey) + grey + sin[:, None, None] * cross


def belt_views(bank: ImageBank, idx: torch.Tensor, size: int, cfg: AugmentConfig, backgrounds: torch.Tensor,
               gen: torch.Generator) -> torch.Tensor:
    """B x 3 x size x size RGB in [0, 1]: one random view of each image ``idx`` names.

    ``backgrounds`` (M x 3 x S x S uint8 RGB) are what cut-out items are pasted on (a random one each,
    randomly placed and mirrored); drawn independently of the class, they cannot predict it.
    """
    dev = bank.images.device
    b = int(idx.shape[0])
    h, w = bank.images.shape[-2:]
    src = bank.images[idx].float() / 255
    angle = _uniform(b, 0, 2 * math.pi, gen, dev) if cfg.rotate else torch.zeros(b, device=dev)
    flip = torch.where(torch.rand(b, 2, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    s = _uniform(b, *cfg.scale_range, gen, dev)
    on_belt = torch.rand(b, generator=gen, device=dev) < cfg.belt_p
    box = bank.boxes[idx]
    extent = torch.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]).clamp(min=8)
    # On the belt the view is framed as the node crops an item: a square 1.25x its larger side.
    scale = torch.where(on_belt, size / (extent * 1.25), torch.full_like(extent, size / min(h, w))) * s
    centre = torch.where(on_belt[:, None], (box[:, :2] + box[:, 2:]) / 2,
                         torch.tensor([w / 2, h / 2], device=dev).expand(b, 2))
    centre = centre + (torch.rand(b, 2, generator=gen, device=dev) * 2 - 1) * cfg.shift * w
    photo = _sample(src, centre, angle, scale, flip, size, "reflection")
    out = photo
    if bool(on_belt.any()):
        item = _sample(src, centre, angle, scale, flip, size, "zeros")
        alpha = _sample(bank.masks[idx].float() / 255, centre, angle, scale, flip, size, "zeros")
        alpha = _blur(alpha, torch.full((b,), 0.8, device=dev))
        m, side = backgrounds.shape[0], backgrounds.shape[-1]
        pick = torch.randint(0, m, (b,), generator=gen, device=dev)
        spot = torch.rand(b, 2, generator=gen, device=dev) * (side - size) + size / 2 - 0.5
        flip_bg = torch.where(torch.rand(b, 2, generator=gen, device=dev) < 0.5, -1.0, 1.0)
        ground = _sample(backgrounds[pick].float() / 255, spot, torch.zeros(b, device=dev),
                         torch.ones(b, device=dev), flip_bg, size, "reflection")
        out = torch.where(on_belt[:, None, None, None], item * alpha + ground * (1 - alpha), photo)
    if cfg.low_res_p > 0:
        low = torch.rand(b, generator=gen, device=dev) < cfg.low_res_p
        level = (torch.rand(b, generator=gen, device=dev) * LOW_RES_LEVELS).long()
        lo, hi = cfg.low_res_range
        for k in range(LOW_RES_LEVELS):
            pick = torch.nonzero(low & (level == k)).flatten()
            if len(pick):
                small = max(8, round(size * (lo + (hi - lo) * (k + 0.5) / LOW_RES_LEVELS)))
                down = F.interpolate(out[pick], size=(small, small), mode="bilinear", antialias=True,
                                     align_corners=False)
                out[pick] = F.interpolate(down, size=(size, size), mode="bilinear", align_corners=False)
    if cfg.white_balance > 0:
        gains = _uniform(3 * b, 1 - cfg.white_balance, 1 + cfg.white_balance, gen, dev).view(b, 3)
        out = (out * (gains / gains.mean(1, keepdim=True))[:, :, None, None]).clamp(0, 1)
    if cfg.photometric > 0:
        p = cfg.photometric
        gain, contrast, sat = (_uniform(b, 1 - p, 1 + p, gen, dev)[:, None, None, None] for _ in range(3))
        mean = out.mean((1, 2, 3), keepdim=True)
        out = (out - mean) * contrast + mean * gain
        grey = out.mean(1, keepdim=True)
        out = (grey + (out - grey) * sat).clamp(0, 1)
    if cfg.hue_deg > 0:
        rot = _hue_rotation(_uniform(b, -cfg.hue_deg, cfg.hue_deg, gen, dev))
        out = torch.einsum("bij,bjhw->bihw", rot, out).clamp(0, 1)
    if cfg.blur_p > 0:
        blurred = torch.rand(b, generator=gen, device=dev) < cfg.blur_p
        out = _blur(out, torch.where(blurred, _uniform(b, 0.3, 1.2, gen, dev), torch.zeros(b, device=dev)))
    return out


def normalise(views: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """RGB [0, 1] views as the model takes them (the cell's normalize_batch, on the device)."""
    m = torch.tensor(mean, device=views.device, dtype=views.dtype)[None, :, None, None]
    s = torch.tensor(std, device=views.device, dtype=views.dtype)[None, :, None, None]
    return (views - m) / s
