"""Real photographs in the shapes and formats an evaluation meets, made from the SIGNS
photos (64x64 JPEGs of a hand) and CIFAR-10 test images.

Each is a real photo resized with PIL to an odd size (landscape, portrait, smaller than
a 256 resize, exactly the crop) and saved as JPEG, PNG with alpha, palette PNG with a
transparent colour, grey PNG, CMYK JPEG, BMP and a two-frame GIF (the first frame counts).
"""

import numpy as np

CIFAR_FILE = "cifar10-subset/cifar10_subset.npz"


def make_photos(signs_dir, out) -> dict:
    """``{kind: path}`` of the photographs, written under ``out``."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    sources = sorted((signs_dir / "test_signs").glob("*.jpg"))
    a, b, c, d = (Image.open(sources[i]).convert("RGB") for i in (0, 17, 45, 90))
    wide = a.resize((301, 257), Image.Resampling.BICUBIC)
    tall = b.resize((233, 350), Image.Resampling.BILINEAR)
    small = c.resize((150, 97), Image.Resampling.BICUBIC)
    files = {}

    def save(kind, image, name, **kwargs):
        path = out / name
        image.save(path, **kwargs)
        files[kind] = path

    save("jpeg", wide, "wide.jpg", quality=92)
    save("png", tall, "tall.png")
    alpha = Image.fromarray(np.tile(np.linspace(0, 255, 301, dtype=np.uint8), (257, 1)))
    rgba = wide.copy()
    rgba.putalpha(alpha)
    save("rgba_png", rgba, "alpha.png")
    save("palette_png", tall.convert("P", palette=Image.Palette.ADAPTIVE, colors=64),
         "palette.png", transparency=0)
    save("grey_png", small.convert("L"), "grey.png")
    save("cmyk_jpeg", wide.convert("CMYK"), "cmyk.jpg", quality=95)
    save("bmp", small, "small.bmp")
    save("gif", tall.convert("P", palette=Image.Palette.ADAPTIVE),
         "two_frames.gif", save_all=True,
         append_images=[wide.resize((233, 350)).convert("P", palette=Image.Palette.ADAPTIVE)])
    save("square", d.resize((224, 224), Image.Resampling.BICUBIC), "square.jpg", quality=90)
    save("big_square", d.resize((299, 299), Image.Resampling.BICUBIC), "square299.png")
    return files


def make_cifar_photos(shared_data, out, count=3) -> dict:
    """``{kind: path}``: CIFAR-10 test images (32x32) as PNG and JPEG."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    with np.load(shared_data / CIFAR_FILE, allow_pickle=False) as data:
        images = data["x_test"][:count]
    files = {}
    for i, image in enumerate(images):
        path = out / f"cifar{i}.{'png' if i % 2 == 0 else 'jpg'}"
        Image.fromarray(image).save(path)
        files[f"cifar{i}"] = path
    return files


def truncated_copy(path, out):
    """A copy of the JPEG at ``path`` cut to half its bytes."""
    data = path.read_bytes()
    out.write_bytes(data[:len(data) // 2])
    return out
