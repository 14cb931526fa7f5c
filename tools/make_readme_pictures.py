"""Make the example pictures of the README and the web gallery's empty front page.

    python tools/make_readme_pictures.py            # all of them (a few minutes on 2 cores)
    python tools/make_readme_pictures.py --only clip --only mixed5

Every picture is made with the bundled default model (EfficientNet-Lite0) through the
real command line, as a user would (``python -m bot.cli`` is ``dreambot``):

* ``photo.jpg``: the bundled sample photo (``dreambot dream sample`` dreams it);
* ``mixed3.jpg``, ``mixed4.jpg``, ``mixed5.jpg``: ``dreambot dream sample --layer mixedN
  --strength high --seed 1``, low to high layers;
* ``atlas-mixed4.jpg``: ``dreambot atlas --layer mixed4 --filters 0-15``, what 16 filters of
  ``mixed4`` want to see (skipped with a message while this checkout has no ``atlas`` command);
* ``clip.webp``: a short clip panning over the photo, dreamed by ``dreambot dream pan.gif``.

They are written to ``bot/web/static/examples/`` (the web gallery serves them from there,
and the README links the same files), small: JPEG/WebP at a few hundred px.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bot" / "web" / "static" / "examples"
SEED = "1"
SIDE = 320  # long side of the stills as shown
JPEG_QUALITY = 80
PICTURES = ("photo", "dreams", "mixed5", "atlas", "clip")


def dreambot(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this checkout's ``dreambot`` command line; stop with its message if it fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "bot.cli", *args]
    print("$ dreambot " + " ".join(args), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"dreambot {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def has_command(name: str) -> bool:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", name, "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return done.returncode == 0


def save_jpeg(image: Image.Image, name: str, side: int = SIDE) -> Path:
    img = image.convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    path = OUT / name
    img.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    print(f"  {path.relative_to(ROOT)}: {img.size[0]}x{img.size[1]}, {path.stat().st_size // 1024} KB", flush=True)
    return path


def make_photo(tmp: Path) -> None:
    from dream_core.images import sample_path

    save_jpeg(Image.open(sample_path()), "photo.jpg")


def make_dreams(tmp: Path, layers: tuple[str, ...] = ("mixed3", "mixed4", "mixed5")) -> None:
    for layer in layers:
        png = tmp / f"{layer}.png"
        dreambot("dream", "sample", "--layer", layer, "--strength", "high", "--seed", SEED, "-o", str(png), "--quiet")
        save_jpeg(Image.open(png), f"{layer}.jpg")


def make_atlas(tmp: Path) -> None:
    if not has_command("atlas"):
        print("  skipped atlas-mixed4.jpg: this checkout has no `dreambot atlas` command yet; run again once it has")
        return
    png = tmp / "atlas.png"
    dreambot("atlas", "--layer", "mixed4", "--filters", "0-15", "--size", "128", "-o", str(png))
    save_jpeg(Image.open(png), "atlas-mixed4.jpg", side=512)
    print("  (the README's gallery shows it once its table has a cell for examples/atlas-mixed4.jpg)")


def make_clip(tmp: Path) -> None:
    from dream_core.clips.coherence import panning_clip
    from dream_core.images import sample_path

    photo = Image.open(sample_path()).convert("RGB")
    photo.thumbnail((288, 288), Image.Resampling.LANCZOS)
    clip = panning_clip(photo, frames=12, size=(176, 176), step=(6, 2), duration=110)
    source = tmp / "pan.gif"
    clip.frames[0].save(source, save_all=True, append_images=clip.frames[1:], duration=110, loop=0)
    dreamed = tmp / "clip.webp"
    dreambot("dream", str(source), "--strength", "medium", "--seed", SEED, "-o", str(dreamed), "--quiet")
    with Image.open(dreamed) as anim:  # re-encode smaller: lossy WebP, looping
        frames = []
        for i in range(anim.n_frames):
            anim.seek(i)
            frames.append(anim.convert("RGB"))
        duration = anim.info.get("duration", 110)
    path = OUT / "clip.webp"
    frames[0].save(path, "WEBP", save_all=True, append_images=frames[1:], duration=duration, loop=0, quality=50,
                   method=6)
    print(f"  {path.relative_to(ROOT)}: {frames[0].size[0]}x{frames[0].size[1]}, {len(frames)} frames, "
          f"{path.stat().st_size // 1024} KB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=PICTURES, action="append", help="make only these (repeatable)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    OUT.mkdir(parents=True, exist_ok=True)
    makers = {
        "photo": make_photo,
        "dreams": make_dreams,
        "mixed5": lambda tmp: make_dreams(tmp, ("mixed5",)),
        "atlas": make_atlas,
        "clip": make_clip,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or [p for p in PICTURES if p != "mixed5"]:  # "dreams" makes mixed5 too
            print(f"{name}:", flush=True)
            makers[name](Path(tmp))
    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"{OUT.relative_to(ROOT)}: {total // 1024} KB in all")


if __name__ == "__main__":
    main()
