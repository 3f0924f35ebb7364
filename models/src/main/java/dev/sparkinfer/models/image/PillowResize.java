package dev.sparkinfer.models.image;

/**
 * Pillow's {@code Image.resize(size, Image.BICUBIC)}, bit for bit: the arithmetic of {@code libImaging/Resample.c}
 * (separable convolution, coefficients normalised and turned into 22-bit fixed point for 8-bit images, rounding and
 * clipping to uint8 after each pass), the pass order and row window of {@code ImagingResampleInner}, and the mode
 * handling of {@code Image.resize}: palette and bilevel images are resized with nearest neighbour
 * ({@code ImagingScaleAffine}), RGBA and LA with premultiplied alpha, 16-bit gray in floating point.
 *
 * <p>Both CLIP layouts resize with Pillow, so matching it exactly is what makes the pixel values agree with the
 * references to within the JPEG decoder's differences.
 */
public final class PillowResize {
  private PillowResize() {}

  /** Pillow's {@code PRECISION_BITS}: 32 bits less 8 for the result and 2 for filters with negative lobes. */
  static final int PRECISION_BITS = 32 - 8 - 2;

  /** The bicubic filter's support (its kernel is non-zero on (-2, 2)). */
  private static final double BICUBIC_SUPPORT = 2.0;

  /** {@code Image.resize((width, height), BICUBIC)} with the whole image as the box. */
  public static DecodedImage bicubic(DecodedImage in, int width, int height) {
    if (width < 1 || height < 1) {
      throw new IllegalArgumentException("resize target " + width + "x" + height + " must be at least 1x1");
    }
    if (in.width() == width && in.height() == height) return in; // Pillow returns a copy; images here are immutable
    switch (in.mode()) {
      case P, ONE -> { return nearest(in, width, height); }
      case RGBA, LA -> { return unpremultiply(resampleModes(premultiply(in), width, height)); }
      default -> { return resampleModes(in, width, height); }
    }
  }

  /**
   * The tail of {@code Image.resize}: very tall images (height over 100 × width) are resized vertically first, each
   * pass as its own {@code core.resize} call; everything else in one call, horizontal pass first.
   */
  private static DecodedImage resampleModes(DecodedImage in, int width, int height) {
    if (in.height() > (long) in.width() * 100 && height < in.height()) {
      DecodedImage tall = coreResize(in, in.width(), height, 0, 0, in.width(), in.height());
      return coreResize(tall, width, height, 0, 0, in.width(), height);
    }
    return coreResize(in, width, height, 0, 0, in.width(), in.height());
  }

  /** {@code _imaging.c _resize}: a box of exactly the target size at integer offsets is a crop, else resample. */
  private static DecodedImage coreResize(DecodedImage in, int width, int height, float box0, float box1, float box2, float box3) {
    if (box0 == (int) box0 && box2 - box0 == width && box1 == (int) box1 && box3 - box1 == height) {
      return in.crop((int) box0, (int) box1, width, height);
    }
    return resample(in, width, height, new float[] {box0, box1, box2, box3});
  }

  // ---------------------------------------------------------------- coefficients

  /** One pass's filter: for each output position the first input index, the tap count and ksize weights. */
  private record Coeffs(int ksize, int[] bounds, double[] weights) {}

  /** Pillow's bicubic_filter with a = -0.5, with its exact operation order. */
  static double bicubicFilter(double x) {
    final double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
  }

  /** {@code precompute_coeffs}: the support widens with the downscale factor so that every input pixel contributes. */
  private static Coeffs precomputeCoeffs(int inSize, float in0, float in1, int outSize) {
    double scale = (double) (in1 - in0) / outSize;
    double filterscale = Math.max(scale, 1.0);
    double support = BICUBIC_SUPPORT * filterscale;
    int ksize = (int) Math.ceil(support) * 2 + 1;
    double[] kk = new double[Math.multiplyExact(outSize, ksize)];
    int[] bounds = new int[outSize * 2];
    double invFilterscale = 1.0 / filterscale;
    for (int xx = 0; xx < outSize; xx++) {
      double center = in0 + (xx + 0.5) * scale;
      double ww = 0.0;
      int xmin = (int) (center - support + 0.5); // truncation, as C's (int) cast
      if (xmin < 0) xmin = 0;
      int xmax = (int) (center + support + 0.5);
      if (xmax > inSize) xmax = inSize;
      xmax -= xmin;
      int k = xx * ksize;
      for (int x = 0; x < xmax; x++) {
        double w = bicubicFilter((x + xmin - center + 0.5) * invFilterscale);
        kk[k + x] = w;
        ww += w;
      }
      if (ww != 0.0) {
        for (int x = 0; x < xmax; x++) kk[k + x] /= ww;
      }
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
    return new Coeffs(ksize, bounds, kk);
  }

  /** {@code normalize_coeffs_8bpc}: weights in 22-bit fixed point, rounded half away from zero. */
  private static int[] fixedPoint(double[] kk) {
    int[] out = new int[kk.length];
    for (int i = 0; i < kk.length; i++) {
      out[i] = kk[i] < 0 ? (int) (-0.5 + kk[i] * (1 << PRECISION_BITS)) : (int) (0.5 + kk[i] * (1 << PRECISION_BITS));
    }
    return out;
  }

  /** {@code clip8}: drop the fraction bits of an accumulator that started at one half, clamp to 0..255. */
  private static int clip8(int acc) {
    int v = acc >> PRECISION_BITS;
    return v < 0 ? 0 : Math.min(v, 255);
  }

  /** Pillow's ROUND_UP for the 16-bit path: half away from zero (0.5F is exactly 0.5). */
  private static int roundUp(double f) {
    return (int) (f >= 0.0 ? f + 0.5 : f - 0.5);
  }

  // ---------------------------------------------------------------- ImagingResampleInner

  /**
   * {@code ImagingResampleInner}: the horizontal pass (if the width or box changes) runs only over the input rows the
   * vertical pass will read, then the vertical pass (if the height or box changes).
   */
  private static DecodedImage resample(DecodedImage in, int xsize, int ysize, float[] box) {
    boolean needHorizontal = xsize != in.width() || box[0] != 0 || box[2] != xsize;
    boolean needVertical = ysize != in.height() || box[1] != 0 || box[3] != ysize;

    Coeffs vert = precomputeCoeffs(in.height(), box[1], box[3], ysize);
    int yboxFirst = vert.bounds[0];
    int yboxLast = vert.bounds[ysize * 2 - 2] + vert.bounds[ysize * 2 - 1];

    DecodedImage cur = in;
    if (needHorizontal) {
      Coeffs horiz = precomputeCoeffs(in.width(), box[0], box[2], xsize);
      for (int i = 0; i < ysize; i++) vert.bounds[i * 2] -= yboxFirst;
      cur = horizontal(cur, xsize, yboxFirst, yboxLast - yboxFirst, horiz);
    }
    if (needVertical) cur = vertical(cur, ysize, vert);
    return cur;
  }

  /** {@code ImagingResampleHorizontal_*}: rows [offset, offset + rows) of the input, each resampled to xsize. */
  private static DecodedImage horizontal(DecodedImage in, int xsize, int offset, int rows, Coeffs c) {
    int inW = in.width();
    int ksize = c.ksize;
    int[] bounds = c.bounds;
    if (in.mode() == DecodedImage.Mode.I16) {
      char[] src = in.samples16();
      char[] out = new char[Math.multiplyExact(xsize, rows)];
      for (int yy = 0; yy < rows; yy++) {
        int line = (yy + offset) * inW;
        for (int xx = 0; xx < xsize; xx++) {
          int xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1], k = xx * ksize;
          double ss = 0.0;
          for (int x = 0; x < xmax; x++) ss += src[line + x + xmin] * c.weights[k + x];
          out[yy * xsize + xx] = (char) clip16(roundUp(ss));
        }
      }
      return in.with16(xsize, rows, out);
    }
    int bands = in.mode().bands;
    int[] kk = fixedPoint(c.weights);
    byte[] src = in.samples();
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(xsize, rows), bands)];
    for (int yy = 0; yy < rows; yy++) {
      int line = (yy + offset) * inW * bands;
      for (int xx = 0; xx < xsize; xx++) {
        int xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1], k = xx * ksize;
        for (int b = 0; b < bands; b++) {
          int ss = 1 << (PRECISION_BITS - 1);
          for (int x = 0; x < xmax; x++) ss += (src[line + (x + xmin) * bands + b] & 0xff) * kk[k + x];
          out[(yy * xsize + xx) * bands + b] = (byte) clip8(ss);
        }
      }
    }
    return in.with(xsize, rows, out);
  }

  /** {@code ImagingResampleVertical_*}: every column resampled to ysize rows. */
  private static DecodedImage vertical(DecodedImage in, int ysize, Coeffs c) {
    int w = in.width();
    int ksize = c.ksize;
    int[] bounds = c.bounds;
    if (in.mode() == DecodedImage.Mode.I16) {
      char[] src = in.samples16();
      char[] out = new char[Math.multiplyExact(w, ysize)];
      for (int yy = 0; yy < ysize; yy++) {
        int ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1], k = yy * ksize;
        for (int xx = 0; xx < w; xx++) {
          double ss = 0.0;
          for (int y = 0; y < ymax; y++) ss += src[(y + ymin) * w + xx] * c.weights[k + y];
          out[yy * w + xx] = (char) clip16(roundUp(ss));
        }
      }
      return in.with16(w, ysize, out);
    }
    int bands = in.mode().bands;
    int[] kk = fixedPoint(c.weights);
    byte[] src = in.samples();
    int stride = w * bands;
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, ysize), bands)];
    for (int yy = 0; yy < ysize; yy++) {
      int ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1], k = yy * ksize;
      for (int i = 0; i < stride; i++) {
        int ss = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) ss += (src[(y + ymin) * stride + i] & 0xff) * kk[k + y];
        out[yy * stride + i] = (byte) clip8(ss);
      }
    }
    return in.with(w, ysize, out);
  }

  private static int clip16(int v) {
    return v <= 0 ? 0 : Math.min(v, 65535);
  }

  // ---------------------------------------------------------------- nearest neighbour

  /**
   * {@code ImagingScaleAffine} as {@code _resize} calls it for NEAREST: source coordinates accumulate in double from
   * the first pixel centre, so rounding matches Pillow's for every size, not only for integer factors.
   */
  static DecodedImage nearest(DecodedImage in, int xsize, int ysize) {
    double a0 = (double) in.width() / xsize;
    double a4 = (double) in.height() / ysize;
    int[] xin = new int[xsize];
    double xo = a0 * 0.5;
    for (int x = 0; x < xsize; x++) {
      xin[x] = coord(xo);
      xo += a0;
    }
    int bands = in.mode().bands;
    int inStride = in.width() * bands;
    byte[] src = in.samples();
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(xsize, ysize), bands)]; // zero where outside
    double yo = a4 * 0.5;
    for (int y = 0; y < ysize; y++) {
      int yi = coord(yo);
      if (yi >= 0 && yi < in.height()) {
        for (int x = 0; x < xsize; x++) {
          if (xin[x] >= 0 && xin[x] < in.width()) {
            System.arraycopy(src, yi * inStride + xin[x] * bands, out, (y * xsize + x) * bands, bands);
          }
        }
      }
      yo += a4;
    }
    return in.with(xsize, ysize, out);
  }

  /** Geometry.c's COORD: truncation, with negative coordinates mapped to -1 (outside). */
  private static int coord(double v) {
    return v < 0.0 ? -1 : (int) v;
  }

  // ---------------------------------------------------------------- premultiplied alpha

  /** {@code rgbA2rgba} / {@code lA2la}: colour × alpha / 255 with Pillow's MULDIV255 rounding. */
  static DecodedImage premultiply(DecodedImage in) {
    int bands = in.mode().bands;
    byte[] src = in.samples();
    byte[] out = src.clone();
    for (int p = 0; p < src.length; p += bands) {
      int alpha = src[p + bands - 1] & 0xff;
      for (int b = 0; b < bands - 1; b++) {
        int tmp = (src[p + b] & 0xff) * alpha + 128;
        out[p + b] = (byte) (((tmp >> 8) + tmp) >> 8);
      }
    }
    return in.with(in.width(), in.height(), out);
  }

  /** {@code rgba2rgbA} / {@code la2lA}: colour × 255 / alpha (integer division, clipped), unchanged at alpha 0 or 255. */
  static DecodedImage unpremultiply(DecodedImage in) {
    int bands = in.mode().bands;
    byte[] src = in.samples();
    byte[] out = src.clone();
    for (int p = 0; p < src.length; p += bands) {
      int alpha = src[p + bands - 1] & 0xff;
      if (alpha == 0 || alpha == 255) continue;
      for (int b = 0; b < bands - 1; b++) out[p + b] = (byte) Math.min(255, (255 * (src[p + b] & 0xff)) / alpha);
    }
    return in.with(in.width(), in.height(), out);
  }
}
