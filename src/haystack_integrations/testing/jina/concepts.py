"""A tiny vocabulary shared by texts and images, so multimodal models can match across modalities.

Text and image vectors are otherwise hashes of unrelated features (words, pixels). For the models that
put both in one space (jina-clip-v1/v2, jina-embeddings-v4) the emulator adds a few "concept" features
that both sides can name: colours. A text that says "red" and an image that is partly red share the
`concept:colour:red` feature, so "a red square" finds the red square, as a CLIP model would. It is a
deliberately small stand-in that makes cross-modal pipelines testable offline, not a model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

#: Named colours and the RGB value an image pixel is compared against.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (245, 225, 30),
    "green": (40, 150, 50),
    "teal": (0, 128, 128),
    "blue": (40, 70, 220),
    "navy": (10, 20, 110),
    "purple": (128, 40, 140),
    "pink": (245, 150, 190),
    "brown": (125, 80, 40),
    "black": (10, 10, 10),
    "grey": (128, 128, 128),
    "white": (250, 250, 250),
}
_SYNONYMS = {"gray": "grey", "violet": "purple", "cyan": "teal", "turquoise": "teal", "crimson": "red"}
_BACKGROUNDS = frozenset({"white", "grey", "black"})
_BACKGROUND_WEIGHT = 0.5

#: How much the named colours weigh against the rest of a vector (both parts normalised first). Text-image
#: cosines of a match then come out around 0.2 to 0.5, as with CLIP models; image-image ones stay led by
#: the pixels, so copies of one image remain far closer than two images in the same colours.
TEXT_SHARE = 1.0
IMAGE_SHARE = 0.8


def text_concepts(words: Iterable[str]) -> dict[str, float]:
    """The colour concepts named by a text's (lower-case) words."""
    named = (_SYNONYMS.get(word, word) for word in words)
    return {f"concept:colour:{colour}": 1.0 for colour in named if colour in COLOURS}


def image_concepts(pixels_per_colour: Mapping[str, int]) -> dict[str, float]:
    """
    The colours an image shows, weighted by salience rather than area.

    `pixels_per_colour` counts the pixels nearest to each of `COLOURS`. A small red mark on a white page
    is what a caption would name, so each colour weighs the square root of its share of the pixels, and
    the usual background colours (white, grey, black) half that.
    """
    total = sum(pixels_per_colour.values())
    return {
        f"concept:colour:{name}": math.sqrt(count / total) * (_BACKGROUND_WEIGHT if name in _BACKGROUNDS else 1.0)
        for name, count in pixels_per_colour.items()
        if count
    }
