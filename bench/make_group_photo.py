"""Make tests/assets/photos/group.png: three people side by side, from the astronaut portrait.

The test photos hold no group, so this builds one deterministically from a real photo: the
astronaut's head and shoulders, cut out three times at different sizes (and the middle copy
mirrored), set on a plain grey background. Run from the repository root:
`.venv/bin/python bench/make_group_photo.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "assets" / "photos"
#: The astronaut's head and shoulders in the 512x512 portrait (left, top, right, bottom).
HEAD_AND_SHOULDERS = (110, 10, 350, 290)
#: Each copy's height in pixels and whether it is mirrored.
COPIES = ((240, False), (200, True), (170, False))
BACKGROUND = (200, 200, 200)
SIZE = (720, 280)
GAP = 20


def make_group() -> Image.Image:
    portrait = Image.open(PHOTOS / "astronaut.png").convert("RGB").crop(HEAD_AND_SHOULDERS)
    group = Image.new("RGB", SIZE, BACKGROUND)
    left = GAP
    for height, mirrored in COPIES:
        width = round(portrait.width * height / portrait.height)
        copy = portrait.resize((width, height), Image.Resampling.LANCZOS)
        if mirrored:
            copy = copy.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        group.paste(copy, (left, SIZE[1] - height))
        left += width + GAP
    return group


if __name__ == "__main__":
    image = make_group()
    image.save(PHOTOS / "group.png", optimize=True)
    print(image.size, np.asarray(image).shape)
