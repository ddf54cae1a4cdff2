"""Read rate and wrong reads on the real zxing-blackbox photos (0 degrees, as stored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from datasets.zxing_blackbox import BlackboxItem, load_blackbox, matches, read_image
from perception.decode import decode


@dataclass(frozen=True)
class CodeBenchResult:
    n_images: int
    correct: int
    wrong: int  # a read of the image's symbology with other text (ZXing's "misread")
    by_folder: dict  # folder -> (n, correct, wrong)

    @property
    def read_rate(self) -> float:
        return self.correct / self.n_images if self.n_images else 0.0


def score_item(item: BlackboxItem, reads) -> tuple[bool, bool]:
    ok = any(matches(item, r.symbology, r.text) for r in reads)
    same_kind = [r for r in reads if r.symbology == item.symbology or (item.symbology == "upca" and r.symbology == "ean13")]
    wrong = not ok and any(not matches(item, r.symbology, r.text) for r in same_kind)
    return ok, wrong


def bench_blackbox(*, second_opinion: bool = True, enhance: bool = True, root=None,
                   on_item: Callable[[int, int], None] | None = None) -> CodeBenchResult:
    items = load_blackbox(root)
    correct = wrong = 0
    by_folder: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        reads = decode(read_image(it.path), second_opinion=second_opinion, enhance=enhance)
        ok, bad = score_item(it, reads)
        correct += ok
        wrong += bad
        f = by_folder.setdefault(it.folder, [0, 0, 0])
        f[0] += 1
        f[1] += ok
        f[2] += bad
        if on_item:
            on_item(i + 1, len(items))
    return CodeBenchResult(len(items), correct, wrong, {k: tuple(v) for k, v in by_folder.items()})
