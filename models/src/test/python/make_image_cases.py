"""Makes the small test images of models/src/test/resources/images/ and records what Pillow decodes from each, in
cases.json beside them: the ground truth for ImageFormatsTest (ImageDecoder must give Pillow's mode and samples).

Usage (Debian's Pillow, apt-get install python3-pil python3-numpy; a JDK on the PATH for the YCCK file):
    /usr/bin/python3 models/src/test/python/make_image_cases.py models/src/test/resources/images

Per image, cases.json holds Pillow's format, mode and size, and
  - lossless images: sha256 of the decoded samples and of im.convert("RGB"), which must match exactly;
  - lossy images (JPEG, lossy WebP): the decoded samples themselves (base64), because the Java decoders may differ from
    libjpeg-turbo / libwebp by a few levels, and the test measures and bounds that difference; the RGB conversion
    of Pillow's own samples by sha256, to check the conversion formula exactly;
  - a few images: the CLIP preprocessing of both layouts at 16 px, as uint8 RGB (base64) before /255 and normalise:
    "hf" = convert("RGB"), bicubic resize of the short side, crop with floor offsets (CLIPImageProcessor);
    "openai" = bicubic resize of the image as decoded, crop with round() offsets, then convert("RGB") (clip._transform).
Samples are np.asarray(im) in C order: bytes for 8-bit modes ("1" as 0/255), little-endian uint16 for "I" / "I;16".
Files Pillow refuses (decompression bombs, truncated or non-image bytes) are recorded with its exception.

What could not be made with Pillow: it cannot write YCCK JPEGs (JpegEncode writes 4-component JPEGs as Adobe CMYK,
transform 0). jpeg_ycck.jpg is written by the JDK's JPEG writer (libjpeg 6b inside the JDK) from YCCK samples this
script computes, with an Adobe APP14 transform-2 marker and Photoshop's conventions (inverted K, YCC of the inverted
CMY); Pillow then decodes it like any YCCK file, so the reference is still Pillow's.
"""
import base64, hashlib, io, json, math, os, shutil, struct, subprocess, sys, tempfile, zlib

import numpy as np
import PIL
from PIL import Image, features

SIZE = 16  # CLIP crop size of the preprocessing references
W, H = 40, 28  # most test images: not a multiple of 8 or 16, so JPEG edge blocks and chroma edges are exercised


def pattern(w, h, bands, seed):
    """Smooth gradients, a ripple and a hard diagonal edge: exercises IDCT, chroma upsampling and resampling."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for b in range(bands):
        ph = seed * 1.7 + b * 2.1
        v = 128 + 90 * np.sin(x * (0.21 + 0.05 * b) + ph) * np.cos(y * (0.17 + 0.03 * b) - ph)
        v += (x / max(w - 1, 1) - 0.5) * 60 * (1 if b % 2 else -1)
        v = np.where(x * h > y * w * 1.3, 255 - v, v)  # the edge
        chans.append(np.clip(np.rint(v), 0, 255))
    return np.stack(chans, axis=-1).astype(np.uint8)


def alpha_plane(w, h):
    """Opaque, transparent and partly transparent regions."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.clip((x * 255) // max(w - 1, 1), 0, 255).astype(np.uint8)
    a[: h // 4, :] = 0
    a[h // 4: h // 2, : w // 3] = 255
    return a


def samples_of(im):
    a = np.asarray(im)
    if im.mode == "1":
        return (a.astype(np.uint8) * 255).tobytes()
    if im.mode in ("I;16", "I"):  # 16-bit gray PNG: "I" in Pillow 9.4, "I;16" in later versions
        return a.astype("<u2").tobytes()
    return a.astype(np.uint8).tobytes()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def b64(b):
    return base64.b64encode(b).decode("ascii")


def clip_refs(im):
    """Both CLIP layouts at SIZE px on the image as Pillow decoded it, stopping at uint8 RGB (before /255)."""
    def short_side(img):
        w, h = img.size
        s, l = min(w, h), max(w, h)
        nl = int(SIZE * l / s)
        return (SIZE, nl) if w <= h else (nl, SIZE)

    hf = im.convert("RGB")
    hf = hf.resize(short_side(hf), Image.BICUBIC)
    left, top = (hf.size[0] - SIZE) // 2, (hf.size[1] - SIZE) // 2
    hf = hf.crop((left, top, left + SIZE, top + SIZE))

    oa = im.resize(short_side(im), Image.BICUBIC)
    left, top = int(round((oa.size[0] - SIZE) / 2.0)), int(round((oa.size[1] - SIZE) / 2.0))
    oa = oa.crop((left, top, left + SIZE, top + SIZE)).convert("RGB")
    return {"hf": b64(hf.tobytes()), "openai": b64(oa.tobytes())}


def record(path, lossy, clip=False, note=None):
    name = os.path.basename(path)
    entry = {"file": name, "lossy": lossy}
    if note:
        entry["note"] = note
    try:
        im = Image.open(path)
        entry.update(format=im.format, mode=im.mode, size=list(im.size))
        im.load()
    except Exception as e:  # what Pillow refuses, with its reason
        for k in ("format", "mode", "size"):
            entry.pop(k, None)
        entry["pillow_error"] = type(e).__name__ + ": " + str(e).replace(path, name)
        return entry
    s = samples_of(im)
    rgb = im.convert("RGB").tobytes()
    entry["samples_sha256"] = sha(s)
    entry["rgb_sha256"] = sha(rgb)
    if lossy:
        entry["samples_b64"] = b64(s)
    if im.mode == "P":
        entry["palette"] = im.getpalette()[: 3 * 256]
    if clip:
        entry["clip"] = clip_refs(im)
    return entry


# ---------------------------------------------------------------- hand-made files (what Pillow does not write)

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def write_png(path, w, h, bit_depth, color_type, rows):
    """rows: list of raw scanline bytes (filter byte 0 prepended here)."""
    raw = b"".join(b"\x00" + r for r in rows)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))
    open(path, "wb").write(data)


def write_bmp_bitfields_alpha(path, rgba):
    """A 32-bit BMP with a BITMAPV4HEADER, BI_BITFIELDS and an alpha mask (what GIMP and others write for RGBA)."""
    h, w, _ = rgba.shape
    pixels = b"".join(rgba[y][:, [2, 1, 0, 3]].tobytes() for y in range(h - 1, -1, -1))  # bottom-up BGRA
    header = struct.pack("<IiiHHIIiiII", 108, w, h, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    header += struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    header += b"BGRs" + bytes(36) + bytes(12)
    offset = 14 + len(header)
    open(path, "wb").write(b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + pixels)


YCCK_WRITER = r"""
import java.awt.color.ColorSpace; import java.awt.image.*; import java.io.*; import javax.imageio.*;
import javax.imageio.metadata.IIOMetadata; import javax.imageio.stream.ImageOutputStream;
public class YcckWriter {
  /** Only its type matters: the JDK's default JPEG metadata for a CMYK space is Adobe transform 2 (YCCK). */
  static final class Cmyk extends ColorSpace {
    Cmyk() { super(TYPE_CMYK, 4); }
    public float[] toRGB(float[] v) { return new float[3]; } public float[] fromRGB(float[] v) { return new float[4]; }
    public float[] toCIEXYZ(float[] v) { return new float[3]; } public float[] fromCIEXYZ(float[] v) { return new float[4]; }
  }
  public static void main(String[] a) throws IOException {
    int w = Integer.parseInt(a[1]), h = Integer.parseInt(a[2]);
    byte[] ycck = java.nio.file.Files.readAllBytes(new File(a[0]).toPath());
    WritableRaster r = Raster.createInterleavedRaster(new DataBufferByte(ycck, ycck.length), w, h, 4 * w, 4,
        new int[] {0, 1, 2, 3}, null);
    ImageWriter writer = null;  // the JDK's own writer: it writes raster samples as they are
    for (var it = ImageIO.getImageWritersByFormatName("jpeg"); it.hasNext(); ) {
      ImageWriter c = it.next();
      if (c.getClass().getName().startsWith("com.sun.")) writer = c;
    }
    ImageWriteParam p = writer.getDefaultWriteParam();
    p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
    p.setCompressionQuality(0.9f);
    IIOMetadata md = writer.getDefaultImageMetadata(
        ImageTypeSpecifier.createInterleaved(new Cmyk(), new int[] {0, 1, 2, 3}, DataBuffer.TYPE_BYTE, false, false), p);
    try (ImageOutputStream out = ImageIO.createImageOutputStream(new File(a[3]))) {
      writer.setOutput(out);
      writer.write(null, new IIOImage(r, null, md), p);
    }
  }
}
"""


def write_ycck(path, cmyk_ink):
    """YCCK as Photoshop stores it: stored CMYK is inverted (255 - ink), libjpeg's cmyk_ycck_convert takes
    R = 255 - stored C = ink C, ... to YCbCr and keeps the stored K. So YCC = rgb_to_ycc(ink C, M, Y), K = 255 - ink K."""
    c, m, yy, k = (cmyk_ink[..., i].astype(np.float64) for i in range(4))
    Y = 0.299 * c + 0.587 * m + 0.114 * yy
    Cb = -0.168735892 * c - 0.331264108 * m + 0.5 * yy + 128
    Cr = 0.5 * c - 0.418687589 * m - 0.081312411 * yy + 128
    planes = [np.clip(np.rint(p), 0, 255) for p in (Y, Cb, Cr, 255 - k)]
    raw = np.stack(planes, axis=-1).astype(np.uint8)
    h, w, _ = raw.shape
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "YcckWriter.java")
        open(src, "w").write(YCCK_WRITER)
        open(os.path.join(tmp, "ycck.raw"), "wb").write(raw.tobytes())
        subprocess.run(["java", src, os.path.join(tmp, "ycck.raw"), str(w), str(h), path], check=True)


def write_bmp16(path, rgb, masks):
    """A 16-bit BMP: BI_RGB (5-5-5) when masks is None, else BI_BITFIELDS with the given R, G, B masks (5-6-5)."""
    h, w, _ = rgb.shape
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    if masks is None:
        px = (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)
    else:
        px = (r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)
    stride = (w * 2 + 3) & ~3
    pixels = b"".join(px[y].astype("<u2").tobytes().ljust(stride, b"\0") for y in range(h - 1, -1, -1))
    extra = b"" if masks is None else struct.pack("<III", *masks)
    header = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 16, 0 if masks is None else 3, len(pixels), 2835, 2835, 0, 0)
    offset = 14 + len(header) + len(extra)
    open(path, "wb").write(b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + extra + pixels)


def strip_app0(path):
    """Drops the JFIF APP0 segment: an unmarked 3-component JPEG (component ids 1, 2, 3)."""
    d = open(path, "rb").read()
    assert d[2:4] == b"\xff\xe0"
    n = struct.unpack(">H", d[4:6])[0]
    open(path, "wb").write(d[:2] + d[4 + n:])


def linear_rgb_icc():
    """The JDK's linear-RGB ICC profile (not sRGB): a JPEG with it must still decode as Pillow does, ignoring it."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "Icc.java")
        open(src, "w").write("public class Icc { public static void main(String[] a) throws Exception {"
                             " java.nio.file.Files.write(java.nio.file.Path.of(a[0]), java.awt.color.ICC_Profile"
                             ".getInstance(java.awt.color.ColorSpace.CS_LINEAR_RGB).getData()); } }")
        out = os.path.join(tmp, "linear.icc")
        subprocess.run(["java", src, out], check=True)
        return open(out, "rb").read()


def bomb_png(path):
    """IHDR says 30000 x 30000 RGB; the IDAT holds a few rows' worth of deflate: 100 bytes that would need 2.7 GB."""
    rows = zlib.compress(b"\x00" * 64)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b""))
    open(path, "wb").write(data)


def bomb_jpeg(path, progressive):
    """A real small JPEG whose SOF height/width are patched to 30000 x 30000 (the scan data stays tiny)."""
    buf = io.BytesIO()
    Image.fromarray(pattern(16, 16, 3, 9)).save(buf, "JPEG", quality=50, progressive=progressive)
    data = bytearray(buf.getvalue())
    sof = 0xC2 if progressive else 0xC0
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2: i + 4])[0]
        if marker == sof:
            struct.pack_into(">HH", data, i + 5, 30000, 30000)
            break
        i += 2 + length
    open(path, "wb").write(bytes(data))


def bomb_webp(path):
    """An animation whose VP8X canvas is 30000 x 30000, with one 8 x 8 lossless frame (ANMF) in its corner."""
    buf = io.BytesIO()
    Image.fromarray(pattern(8, 8, 3, 5)).save(buf, "WEBP", lossless=True)
    vp8l = buf.getvalue()[12:]  # the VP8L chunk, header included
    u24 = lambda v: v.to_bytes(3, "little")
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x02, 0, 0, 0]) + u24(30000 - 1) + u24(30000 - 1)
    anim = b"ANIM" + struct.pack("<I", 6) + bytes(4) + struct.pack("<H", 0)
    frame = u24(0) + u24(0) + u24(8 - 1) + u24(8 - 1) + u24(100) + bytes([0]) + vp8l
    anmf = b"ANMF" + struct.pack("<I", len(frame)) + frame + (b"\x00" if len(frame) % 2 else b"")
    body = b"WEBP" + vp8x + anim + anmf
    open(path, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)


def bomb_gif(path):
    """A logical screen of 30000 x 30000 with a 1 x 1 frame (Pillow's size is the screen)."""
    buf = io.BytesIO()
    Image.new("P", (1, 1)).save(buf, "GIF")
    d = bytearray(buf.getvalue())
    struct.pack_into("<HH", d, 6, 30000, 30000)
    open(path, "wb").write(bytes(d))


def bomb_bmp(path):
    """A 24-bit BMP header of 30000 x 30000 and a few bytes of pixels."""
    header = struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    open(path, "wb").write(b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + header + bytes(16))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "models/src/test/resources/images"
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    cases = []

    rgb = pattern(W, H, 3, 1)
    rgba = np.dstack([pattern(W, H, 3, 2), alpha_plane(W, H)])
    gray = pattern(W, H, 1, 3)[..., 0]
    cmyk = pattern(W, H, 4, 4)

    # JPEG: Pillow's defaults are 4:2:0 and baseline
    Image.fromarray(rgb).save(p("jpeg_baseline.jpg"), quality=90)
    cases.append(record(p("jpeg_baseline.jpg"), True, clip=True, note="YCbCr 4:2:0, JFIF"))
    Image.fromarray(rgb).save(p("jpeg_444.jpg"), quality=90, subsampling=0)
    cases.append(record(p("jpeg_444.jpg"), True, note="YCbCr 4:4:4"))
    Image.fromarray(rgb).save(p("jpeg_progressive.jpg"), quality=85, progressive=True)
    cases.append(record(p("jpeg_progressive.jpg"), True, clip=True, note="progressive, 4:2:0"))
    Image.fromarray(rgb).save(p("jpeg_nojfif_444.jpg"), quality=90, subsampling=0)
    strip_app0(p("jpeg_nojfif_444.jpg"))
    cases.append(record(p("jpeg_nojfif_444.jpg"), True,
                        note="no JFIF, no Adobe, ids 1 2 3, not subsampled: libjpeg says YCbCr (the JDK's read() says RGB)"))
    if shutil.which("java"):
        Image.fromarray(rgb).save(p("jpeg_icc.jpg"), quality=90, icc_profile=linear_rgb_icc())
        cases.append(record(p("jpeg_icc.jpg"), True, note="embedded linear-RGB ICC profile, which Pillow ignores"))
    Image.fromarray(gray, "L").save(p("jpeg_gray.jpg"), quality=90)
    cases.append(record(p("jpeg_gray.jpg"), True))
    Image.fromarray(cmyk, "CMYK").save(p("jpeg_cmyk.jpg"), quality=90)
    cases.append(record(p("jpeg_cmyk.jpg"), True, clip=True, note="Adobe CMYK (transform 0), stored inverted"))
    Image.fromarray(cmyk, "CMYK").save(p("jpeg_cmyk_progressive.jpg"), quality=90, progressive=True)
    cases.append(record(p("jpeg_cmyk_progressive.jpg"), True, note="progressive Adobe CMYK"))
    if shutil.which("java"):
        write_ycck(p("jpeg_ycck.jpg"), cmyk)
        cases.append(record(p("jpeg_ycck.jpg"), True, clip=True,
                            note="Adobe YCCK (transform 2), Y and K 2x2 subsampled, written by the JDK's libjpeg"))
    else:
        print("no java on the PATH: jpeg_ycck.jpg not made", file=sys.stderr)

    # WebP: Pillow decodes every WebP through WebPAnimDecoder, to RGBA when the file has alpha, else RGB
    Image.fromarray(rgb).save(p("webp_lossy.webp"), quality=80, method=4)
    cases.append(record(p("webp_lossy.webp"), True, clip=True, note="VP8"))
    Image.fromarray(rgb).save(p("webp_lossless.webp"), lossless=True)
    cases.append(record(p("webp_lossless.webp"), False, note="VP8L"))
    Image.fromarray(rgba, "RGBA").save(p("webp_lossy_alpha.webp"), quality=80, method=4)
    cases.append(record(p("webp_lossy_alpha.webp"), True, clip=True, note="VP8X + ALPH + VP8"))
    Image.fromarray(rgba, "RGBA").save(p("webp_lossless_alpha.webp"), lossless=True, exact=True)
    cases.append(record(p("webp_lossless_alpha.webp"), False, clip=True, note="VP8L with alpha, exact RGB under alpha 0"))

    frames = [Image.fromarray(rgb), Image.fromarray(pattern(W, H, 3, 7))]
    frames[0].save(p("webp_animated.webp"), save_all=True, append_images=frames[1:], duration=100, lossless=True)
    cases.append(record(p("webp_animated.webp"), False, note="2 lossless frames: frame 0"))

    # PNG: 16-bit and low-bit-depth variants written by hand, the rest by Pillow
    g16 = (pattern(W, H, 1, 6)[..., 0].astype(np.uint32) * 257 + np.mgrid[0:H, 0:W][1]).astype(np.uint16)
    Image.fromarray(g16.astype(np.uint16), "I;16").save(p("png_gray16.png"))
    cases.append(record(p("png_gray16.png"), False, clip=True, note="16-bit gray, opened as I;16"))
    rgb16 = (rgb.astype(np.uint16) * 257) ^ 0x5A
    write_png(p("png_rgb16.png"), W, H, 16, 2, [rgb16[y].astype(">u2").tobytes() for y in range(H)])
    cases.append(record(p("png_rgb16.png"), False, note="48-bit RGB: Pillow keeps the high bytes"))
    rgba16 = (rgba.astype(np.uint16) * 257) ^ 0x33
    write_png(p("png_rgba16.png"), W, H, 16, 6, [rgba16[y].astype(">u2").tobytes() for y in range(H)])
    cases.append(record(p("png_rgba16.png"), False, clip=True, note="64-bit RGBA"))
    la16 = np.dstack([gray, alpha_plane(W, H)]).astype(np.uint16) * 257
    write_png(p("png_la16.png"), W, H, 16, 4, [la16[y].astype(">u2").tobytes() for y in range(H)])
    cases.append(record(p("png_la16.png"), False, note="16-bit gray+alpha: Pillow opens it as RGBA"))
    g4 = (gray >> 4).astype(np.uint8)
    write_png(p("png_gray4.png"), W, H, 4, 0, [bytes((g4[y][i] << 4) | g4[y][i + 1] for i in range(0, W, 2))
                                              for y in range(H)])
    cases.append(record(p("png_gray4.png"), False, note="4-bit gray, scaled x17"))
    Image.fromarray(np.dstack([gray, alpha_plane(W, H)]), "LA").save(p("png_la.png"))
    cases.append(record(p("png_la.png"), False, clip=True))
    pal = Image.fromarray(rgb).quantize(colors=16, dither=Image.Dither.NONE)
    pal.info["transparency"] = 3
    pal.save(p("png_palette.png"), transparency=3)
    cases.append(record(p("png_palette.png"), False, clip=True, note="16 colours, tRNS"))
    Image.fromarray(gray > 128).save(p("png_bilevel.png"))
    cases.append(record(p("png_bilevel.png"), False, clip=True, note="1-bit"))

    # GIF: palette with a transparent index, and a gray one Pillow reads as L
    pal.save(p("gif_palette.gif"), transparency=3)
    cases.append(record(p("gif_palette.gif"), False, clip=True))
    ramp = Image.fromarray(gray, "P")
    ramp.putpalette([v for i in range(256) for v in (i, i, i)])
    ramp.save(p("gif_gray.gif"), optimize=False)
    cases.append(record(p("gif_gray.gif"), False, note="identity gray palette: Pillow opens it as L"))

    # BMP: small files
    small = (slice(0, 9), slice(0, 13))
    Image.fromarray(rgb[small]).save(p("bmp_rgb.bmp"))
    cases.append(record(p("bmp_rgb.bmp"), False, note="24-bit"))
    Image.fromarray(rgb[small]).quantize(colors=8, dither=Image.Dither.NONE).save(p("bmp_palette.bmp"))
    cases.append(record(p("bmp_palette.bmp"), False, clip=True, note="8-bit palette"))
    Image.fromarray(gray[small], "L").save(p("bmp_gray.bmp"))
    cases.append(record(p("bmp_gray.bmp"), False, clip=True, note="8-bit, gray ramp palette: Pillow opens it as L"))
    Image.fromarray(gray[small] > 128).save(p("bmp_bilevel.bmp"))
    cases.append(record(p("bmp_bilevel.bmp"), False, note="1-bit, black/white palette: Pillow opens it as 1"))
    Image.fromarray(rgba[small], "RGBA").save(p("bmp_rgba32.bmp"))
    cases.append(record(p("bmp_rgba32.bmp"), False, note="32-bit BI_RGB: Pillow ignores the fourth byte (RGB)"))
    write_bmp16(p("bmp_rgb555.bmp"), rgb[small], None)
    cases.append(record(p("bmp_rgb555.bmp"), False, note="16-bit BI_RGB (5-5-5), scaled v * 255 / 31"))
    write_bmp16(p("bmp_rgb565.bmp"), rgb[small], (0xF800, 0x07E0, 0x001F))
    cases.append(record(p("bmp_rgb565.bmp"), False, note="16-bit BI_BITFIELDS 5-6-5"))
    write_bmp_bitfields_alpha(p("bmp_bitfields_alpha.bmp"), rgba[small])
    cases.append(record(p("bmp_bitfields_alpha.bmp"), False, note="32-bit BI_BITFIELDS with an alpha mask: RGBA"))

    # refused: decompression bombs (header only), truncated files, bytes that are not an image
    for name, make in (("bomb.png", bomb_png), ("bomb.jpg", lambda f: bomb_jpeg(f, False)),
                       ("bomb_progressive.jpg", lambda f: bomb_jpeg(f, True)), ("bomb.webp", bomb_webp),
                       ("bomb.gif", bomb_gif), ("bomb.bmp", bomb_bmp)):
        make(p(name))
        cases.append(record(p(name), False, note="30000 x 30000 header, tiny file"))
    for src, cut in (("jpeg_baseline.jpg", 0.5), ("png_la.png", 0.5), ("webp_lossy.webp", 0.5),
                     ("gif_palette.gif", 0.9), ("jpeg_progressive.jpg", 0.6), ("jpeg_cmyk.jpg", 0.8),
                     ("bmp_rgb.bmp", 0.7), ("webp_lossless.webp", 0.7)):
        data = open(p(src), "rb").read()
        name = "truncated_" + src
        open(p(name), "wb").write(data[: int(len(data) * cut)])
        cases.append(record(p(name), False, note="first %d%% of %s" % (cut * 100, src)))
    data = open(p("jpeg_baseline.jpg"), "rb").read()
    open(p("no_eoi_jpeg_baseline.jpg"), "wb").write(data[:-2])
    cases.append(record(p("no_eoi_jpeg_baseline.jpg"), False, note="all scan data, only the EOI marker missing"))
    open(p("not_an_image.html"), "wb").write(b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n")
    cases.append(record(p("not_an_image.html"), False))

    doc = {
        "generator": "models/src/test/python/make_image_cases.py",
        "pillow": PIL.__version__, "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "libwebp": features.version("webp"),
        "zlib": features.version("zlib"), "max_image_pixels": Image.MAX_IMAGE_PIXELS, "clip_size": SIZE,
        "cases": cases,
    }
    with open(p("cases.json"), "w") as f:  # one case a line
        head = json.dumps({k: v for k, v in doc.items() if k != "cases"})[:-1]
        f.write(head + ',\n "cases": [\n' + ",\n".join(json.dumps(c) for c in cases) + "\n]}\n")
    total = sum(os.path.getsize(p(n)) for n in os.listdir(out))
    print("%d cases, %d bytes in %s" % (len(cases), total, out))


if __name__ == "__main__":
    main()
