"""Profile-picture processing cost: median time of services.avatars.prepare() for a phone photo near
the 3 MB limit, a large PNG and a refused decompression bomb, against a 64×64 picture as the baseline
measured in the same run, and the sizes of what is stored.

    .venv/bin/python bench/avatars.py [--rounds 7]
"""
import argparse
import io
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageFilter  # noqa: E402

from services import avatars  # noqa: E402


def photo(size, quality):
    """A photo-like JPEG: smooth noise, so it compresses as a real photograph does."""
    noise = Image.effect_noise((size[0] // 4, size[1] // 4), 60).resize(size).filter(ImageFilter.GaussianBlur(2))
    image = Image.merge("RGB", [noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(size):
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGBA").save(out, "PNG")
    return out.getvalue()


def bomb():
    raw = bytearray(png((1, 1)))
    ihdr = raw[12:29]
    ihdr[4:12] = struct.pack(">II", 60000, 60000)
    raw[12:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(raw)


def median_ms(raw, rounds):
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            result = avatars.prepare(raw)
        except avatars.PictureRejected as problem:
            result = problem
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    cases = [
        ("64x64 JPEG (baseline)", photo((64, 64), 90)),
        ("4000x3000 JPEG photo", photo((4000, 3000), 80)),
        ("2000x2000 PNG, opaque alpha", png((2000, 2000))),
        ("60000x60000 PNG bomb header", bomb()),
    ]
    baseline = None
    print(f"{'input':30} {'bytes':>9} {'median ms':>10} {'ratio':>7}  result")
    for name, raw in cases:
        ms, result = median_ms(raw, rounds)
        baseline = baseline or ms
        if isinstance(result, avatars.PictureRejected):
            outcome = f"refused {result.status}: {result.message}"
        else:
            outcome = f"{result['format']}: 256px {len(result['large'])} B, 64px {len(result['small'])} B"
        print(f"{name:30} {len(raw):>9} {ms:>10.1f} {ms / baseline:>7.1f}  {outcome}")


if __name__ == "__main__":
    main()
