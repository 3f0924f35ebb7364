package dev.sparkinfer.models.image;

import java.util.Arrays;

/**
 * A decoded image in Pillow's terms: a mode and its samples, as {@code PIL.Image.open} would hold them.
 *
 * <p>The mode matters because the two CLIP preprocessing layouts differ in <em>when</em> they convert to RGB: OpenAI /
 * OpenCLIP resize the image as decoded (Pillow resizes palette images with nearest neighbour and RGBA with premultiplied
 * alpha), Hugging Face converts to RGB first. So the decoder keeps gray, gray+alpha, palette, 16-bit gray and CMYK
 * apart.
 */
public final class DecodedImage {
  /** Pillow's image modes that the decoders produce; {@code bands} samples per pixel. */
  public enum Mode {
    /** 1-bit bilevel ("1"), samples 0 or 255. */
    ONE(1),
    /** 8-bit gray ("L"). */
    L(1),
    /** 8-bit gray + alpha ("LA"). */
    LA(2),
    /** 8-bit palette indices ("P"); {@link #palette()} maps them to RGB. */
    P(1),
    RGB(3),
    RGBA(4),
    /**
     * 8-bit CMYK ("CMYK"), ink amounts (0 = no ink): 4-component JPEGs, which Pillow opens with Adobe's inverted
     * convention whether or not the file has an Adobe marker. Resized per channel like any 8-bit mode.
     */
    CMYK(4),
    /** 16-bit gray ("I;16"), samples in {@link #samples16()}. */
    I16(1);

    public final int bands;

    Mode(int bands) {
      this.bands = bands;
    }
  }

  private final Mode mode;
  private final int width;
  private final int height;
  private final byte[] samples;   // [height][width][bands], 8-bit modes; null for I16
  private final char[] samples16; // [height][width], I16 only
  private final int[] palette;    // P only: 0xRRGGBB per index (indices past its end are black, as in Pillow)

  private DecodedImage(Mode mode, int width, int height, byte[] samples, char[] samples16, int[] palette) {
    this.mode = mode;
    this.width = width;
    this.height = height;
    this.samples = samples;
    this.samples16 = samples16;
    this.palette = palette;
  }

  /** An 8-bit image of any mode but I16 and P; {@code samples} is [height][width][bands]. */
  public static DecodedImage of(Mode mode, int width, int height, byte[] samples) {
    if (mode == Mode.I16 || mode == Mode.P) throw new IllegalArgumentException(mode + " images need ofPalette/of16");
    checkLength(mode, width, height, samples.length);
    return new DecodedImage(mode, width, height, samples, null, null);
  }

  /** A palette image: one index a pixel and the palette as 0xRRGGBB entries. */
  public static DecodedImage ofPalette(int width, int height, byte[] indices, int[] palette) {
    checkLength(Mode.P, width, height, indices.length);
    return new DecodedImage(Mode.P, width, height, indices, null, palette.clone());
  }

  /** A 16-bit gray image ("I;16"). */
  public static DecodedImage of16(int width, int height, char[] samples) {
    checkLength(Mode.I16, width, height, samples.length);
    return new DecodedImage(Mode.I16, width, height, null, samples, null);
  }

  private static void checkLength(Mode mode, int width, int height, int length) {
    if (width < 1 || height < 1) throw new IllegalArgumentException("image size " + width + "x" + height + " has no pixels");
    long n = (long) width * height * mode.bands;
    if (n != length) {
      throw new IllegalArgumentException(mode + " image " + width + "x" + height + " needs " + n + " samples, got " + length);
    }
  }

  public Mode mode() { return mode; }

  public int width() { return width; }

  public int height() { return height; }

  /** The 8-bit samples, [height][width][bands] (not a copy). */
  byte[] samples() { return samples; }

  /** The 16-bit samples of an I16 image, [height][width] (not a copy). */
  char[] samples16() { return samples16; }

  /** The palette of a P image, 0xRRGGBB per index. */
  int[] palette() { return palette; }

  /** The same kind of image (mode, palette) with other pixels; used by the resamplers. */
  DecodedImage with(int newWidth, int newHeight, byte[] newSamples) {
    checkLength(mode, newWidth, newHeight, newSamples.length);
    return new DecodedImage(mode, newWidth, newHeight, newSamples, null, palette);
  }

  DecodedImage with16(int newWidth, int newHeight, char[] newSamples) {
    return of16(newWidth, newHeight, newSamples);
  }

  /**
   * {@code Image.crop((left, top, left + w, top + h))}: pixels outside the image come out as zeros (black, index 0),
   * as Pillow's crop does.
   */
  public DecodedImage crop(int left, int top, int w, int h) {
    int bands = mode.bands;
    int x0 = Math.max(0, left), x1 = Math.min(width, left + w);
    if (mode == Mode.I16) {
      char[] out = new char[Math.multiplyExact(w, h)];
      for (int y = Math.max(0, top); y < Math.min(height, top + h); y++) {
        if (x1 > x0) System.arraycopy(samples16, y * width + x0, out, (y - top) * w + (x0 - left), x1 - x0);
      }
      return of16(w, h, out);
    }
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), bands)];
    for (int y = Math.max(0, top); y < Math.min(height, top + h); y++) {
      if (x1 > x0) {
        System.arraycopy(samples, (y * width + x0) * bands, out, ((y - top) * w + (x0 - left)) * bands, (x1 - x0) * bands);
      }
    }
    return with(w, h, out);
  }

  /**
   * {@code Image.convert("RGB")}: gray is replicated, alpha is dropped (no compositing onto a background), palette
   * indices are looked up, 16-bit gray saturates at 255 (Pillow's I16_RGB keeps the low byte when the high byte is
   * zero, else 255), and CMYK uses Pillow's {@code cmyk2rgb}: {@code R = (255 - K) - C × (255 - K) / 255} with
   * Pillow's MULDIV255 rounding, no colour profile. Returns [height][width][3].
   */
  public byte[] toRgb() {
    int n = width * height;
    byte[] rgb = new byte[Math.multiplyExact(n, 3)];
    switch (mode) {
      case RGB -> System.arraycopy(samples, 0, rgb, 0, rgb.length);
      case RGBA -> {
        for (int i = 0; i < n; i++) {
          rgb[3 * i] = samples[4 * i];
          rgb[3 * i + 1] = samples[4 * i + 1];
          rgb[3 * i + 2] = samples[4 * i + 2];
        }
      }
      case ONE, L -> {
        for (int i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = samples[i];
      }
      case LA -> {
        for (int i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = samples[2 * i];
      }
      case P -> {
        for (int i = 0; i < n; i++) {
          int index = samples[i] & 0xff;
          int c = index < palette.length ? palette[index] : 0;
          rgb[3 * i] = (byte) (c >> 16);
          rgb[3 * i + 1] = (byte) (c >> 8);
          rgb[3 * i + 2] = (byte) c;
        }
      }
      case I16 -> {
        for (int i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (byte) Math.min(samples16[i], 255);
      }
      case CMYK -> {
        for (int i = 0; i < n; i++) {
          int nk = 255 - (samples[4 * i + 3] & 0xff);
          for (int c = 0; c < 3; c++) rgb[3 * i + c] = (byte) (nk - mulDiv255(samples[4 * i + c] & 0xff, nk));
        }
      }
    }
    return rgb;
  }

  /** Pillow's MULDIV255: a × b / 255 rounded, as {@code ((t >> 8) + t) >> 8} with {@code t = a × b + 128}. */
  private static int mulDiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  }

  /** {@link #toRgb()} as an RGB image. */
  public DecodedImage convertToRgb() {
    return mode == Mode.RGB ? this : of(Mode.RGB, width, height, toRgb());
  }

  @Override
  public String toString() {
    return "DecodedImage[" + mode + " " + width + "x" + height
        + (palette != null ? ", " + palette.length + " colours" : "") + "]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DecodedImage d && d.mode == mode && d.width == width && d.height == height
        && Arrays.equals(d.samples, samples) && Arrays.equals(d.samples16, samples16) && Arrays.equals(d.palette, palette);
  }

  @Override
  public int hashCode() {
    return ((mode.hashCode() * 31 + width) * 31 + height) * 31 + Arrays.hashCode(samples) + Arrays.hashCode(samples16);
  }
}
