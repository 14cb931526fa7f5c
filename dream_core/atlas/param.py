"""Image parameterisation for feature visualisation: a batch of images in a natural Fourier basis.

Each image is a set of 2-D Fourier coefficients per colour channel (``torch.fft.rfft2``
layout). Three choices make the images that gradient ascent finds look like pictures
rather than high-frequency noise:

* **natural spectrum**: coefficient ``k`` is scaled by ``1 / |f_k| ** decay`` (photos'
  amplitude falls off about as ``1/f``), so an Adam step of equal size on every
  coefficient changes the coarse structure far more than the fine grain;
* **decorrelated colour**: the three channels are independent components that a fixed
  matrix mixes into RGB, the square root of the colour covariance of ImageNet photos
  (the measurement Lucid published), so colours vary like photo colours;
* **bounded contrast**: the mixed image is rescaled to a fixed root-mean-square in logit
  space before the sigmoid that maps it to [0, 1], so no pixel can run off to 0 or 1
  however hard the objective pushes (a plain sigmoid saturates most pixels);
* **bounded fine grain**: the energy of the final pixels above a quarter of Nyquist
  (0.125 cycles per pixel) is capped (``hf_cap``, a mean square in [0, 1] pixel units;
  photos' median is about 0.004): where the objective pushes past it, that band is scaled
  down, so low layers cannot turn the picture into a high-contrast texture of
  single-pixel detail. (Capping the logits' spectrum is not enough: the sigmoid turns
  smooth high-contrast waves into sharp steps.)

One parameter tensor holds the whole batch, so a page of filters is one forward pass.
"""

from __future__ import annotations

import torch

__all__ = ["COLOR_SQRT_COV", "FourierImage", "spectrum_scale"]

#: square root of ImageNet's RGB colour covariance (rows: R, G, B), as measured for Lucid
COLOR_SQRT_COV = torch.tensor(
    [
        [0.26, 0.09, 0.02],
        [0.27, 0.00, -0.05],
        [0.27, -0.09, 0.03],
    ]
)


def spectrum_scale(h: int, w: int, decay: float) -> torch.Tensor:
    """``[h, w // 2 + 1]`` amplitudes ``1 / max(|f|, 1/max(h, w)) ** decay`` of an rfft2 grid, RMS 1."""
    fy = torch.fft.fftfreq(h).view(h, 1)
    fx = torch.fft.rfftfreq(w).view(1, w // 2 + 1)
    freq = torch.sqrt(fy * fy + fx * fx).clamp(min=1.0 / max(h, w))
    scale = freq.pow(-decay)
    return scale / scale.pow(2).mean().sqrt()


class FourierImage:
    """``batch`` images of ``h`` x ``w`` pixels held as scaled Fourier coefficients.

    ``decay``: the spectrum's fall-off exponent (1 = photos' ``1/f``); ``contrast``: the
    root-mean-square of every image in logit space before the sigmoid (about 1.6 keeps
    all but a fraction of a percent of pixels off the 8-bit end stops, 2.0 a few percent);
    ``hf_cap``: the most mean-square energy the pixels may hold above a quarter of Nyquist
    (None: no cap); ``init_std``: the spread of the random starting coefficients.
    """

    def __init__(
        self,
        batch: int,
        h: int,
        w: int,
        *,
        decay: float = 1.0,
        contrast: float = 1.6,
        hf_cap: float | None = 0.006,
        init_std: float = 0.01,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.h, self.w, self.contrast, self.hf_cap = h, w, contrast, hf_cap
        coeffs = torch.randn(batch, 3, h, w // 2 + 1, 2, generator=generator) * init_std
        self.coeffs = coeffs.to(device).requires_grad_(True)
        self.scale = spectrum_scale(h, w, decay).to(device)
        fy, fx = torch.fft.fftfreq(h).view(h, 1), torch.fft.rfftfreq(w).view(1, w // 2 + 1)
        self.high = (torch.sqrt(fy * fy + fx * fx) > 0.125).to(device)  # above a quarter of Nyquist
        color = COLOR_SQRT_COV / COLOR_SQRT_COV.norm(dim=0).max()
        self.color = color.to(device)

    @property
    def parameters(self) -> list[torch.Tensor]:
        return [self.coeffs]

    def logits(self) -> torch.Tensor:
        """``[B, 3, h, w]`` RGB logits, each image rescaled to RMS ``contrast``."""
        spec = torch.view_as_complex(self.coeffs) * self.scale  # decorrelated channels
        x = torch.fft.irfft2(spec, s=(self.h, self.w), norm="ortho")
        x = torch.einsum("rc,bchw->brhw", self.color, x)
        rms = x.pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-12).sqrt()
        return x * (self.contrast / rms)

    def _cap_high(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with each image's mean-square content above the cutoff scaled down to ``hf_cap`` where above."""
        assert self.hf_cap is not None
        spec = torch.fft.rfft2(x, norm="ortho")
        high = torch.fft.irfft2(spec * self.high, s=(self.h, self.w), norm="ortho")
        energy = high.pow(2).mean(dim=(1, 2, 3), keepdim=True)
        factor = torch.sqrt(self.hf_cap / energy.clamp(min=1e-20)).clamp(max=1.0)
        return (x - high * (1 - factor)).clamp(0, 1)

    def __call__(self) -> torch.Tensor:
        """``[B, 3, h, w]`` images in [0, 1]."""
        x = torch.sigmoid(self.logits())
        return self._cap_high(x) if self.hf_cap is not None else x

    def clipped_share(self, low: float = 2.5 / 255) -> float:
        """Share of pixels with any channel within ``low`` of 0 or 1 (8-bit end stops)."""
        with torch.no_grad():
            x = self()
            bad = ((x <= low) | (x >= 1 - low)).any(dim=1)
        return float(bad.float().mean())
