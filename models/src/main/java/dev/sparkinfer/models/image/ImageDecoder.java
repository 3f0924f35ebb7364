package dev.sparkinfer.models.image;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

/**
 * Decodes JPEG, PNG, GIF (first frame) and BMP bytes with {@code javax.imageio} into the mode and samples that
 * {@code PIL.Image.open} would give, because the OpenAI/OpenCLIP transform resizes the image as decoded.
 *
 * <p>Pillow's modes: PNG by its IHDR colour type and bit depth (gray 1-bit "1", 2/4/8-bit "L" scaled to 0..255, 16-bit
 * "I;16"; palette "P"; gray+alpha "LA"; 16-bit RGB/RGBA keep the high byte, 16-bit gray+alpha becomes RGBA), GIF "P"
 * unless its palette is the identity gray ramp ("L"), laid on its logical screen; JPEG "L" or "RGB". Samples are read
 * from the raster, never through a colour model (which would apply a gamma curve to gray images).
 *
 * <p>The pixel count is checked from the header before the pixels are decoded, so a decompression bomb costs nothing.
 * Every failure is an {@link ImageRejectedException} that says what was wrong.
 */
public final class ImageDecoder {
  /** Default refusal threshold: 100 megapixels (Pillow warns at 89 and refuses at 179). */
  public static final long DEFAULT_MAX_PIXELS = 100_000_000L;

  private final long maxPixels;

  public ImageDecoder() {
    this(DEFAULT_MAX_PIXELS);
  }

  /** @param maxPixels images with more pixels (width × height) than this are refused before their pixels are decoded */
  public ImageDecoder(long maxPixels) {
    if (maxPixels < 1) throw new IllegalArgumentException("maxPixels must be positive, got " + maxPixels);
    this.maxPixels = maxPixels;
  }

  public long maxPixels() { return maxPixels; }

  /** Decodes one encoded image; throws {@link ImageRejectedException} for anything that is not a usable image. */
  public DecodedImage decode(byte[] encoded) {
    if (encoded == null || encoded.length == 0) {
      throw new ImageRejectedException("image bytes are empty; expected a JPEG, PNG, GIF or BMP file");
    }
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new ImageRejectedException(describe(encoded) + " is not a JPEG, PNG, GIF or BMP image (WebP, TIFF and others"
            + " are not supported; convert them first)");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, false, false);
        String format = reader.getFormatName().toLowerCase(Locale.ROOT);
        int width = reader.getWidth(0);
        int height = reader.getHeight(0);
        checkSize(format, width, height, encoded);
        return switch (format) {
          case "png" -> png(reader, encoded);
          case "gif" -> gif(reader, encoded);
          default -> generic(reader.read(0), format, encoded);
        };
      } finally {
        reader.dispose();
      }
    } catch (ImageRejectedException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new ImageRejectedException(describe(encoded) + " cannot be decoded (" + e.getClass().getSimpleName() + ": "
          + e.getMessage() + "); the file is damaged or uses a variant javax.imageio does not read (e.g. CMYK JPEG)", e);
    }
  }

  private void checkSize(String format, long width, long height, byte[] encoded) {
    if (width < 1 || height < 1) {
      throw new ImageRejectedException(describe(encoded) + ": " + format.toUpperCase(Locale.ROOT) + " image is " + width
          + "x" + height + " pixels; an image needs at least one pixel");
    }
    if (width * height > maxPixels) {
      throw new ImageRejectedException(describe(encoded) + ": " + format.toUpperCase(Locale.ROOT) + " image is " + width
          + "x" + height + " = " + (width * height) + " pixels, over the limit of " + maxPixels
          + "; downscale it first or raise the image pixel limit");
    }
  }

  // ---------------------------------------------------------------- PNG

  private DecodedImage png(ImageReader reader, byte[] encoded) throws IOException {
    IIOMetadata meta = reader.getImageMetadata(0);
    Node ihdr = child(meta.getAsTree("javax_imageio_png_1.0"), "IHDR");
    String colorType = attr(ihdr, "colorType");
    int bitDepth = Integer.parseInt(attr(ihdr, "bitDepth"));
    BufferedImage image = reader.read(0);
    Raster r = image.getRaster();
    int w = r.getWidth(), h = r.getHeight();
    int[] s = r.getPixels(0, 0, w, h, (int[]) null);
    switch (colorType) {
      case "Grayscale" -> {
        if (bitDepth == 16) {
          char[] g = new char[s.length];
          for (int i = 0; i < s.length; i++) g[i] = (char) s[i];
          return DecodedImage.of16(w, h, g);
        }
        if (bitDepth == 1) return DecodedImage.of(DecodedImage.Mode.ONE, w, h, scaled(s, 1));
        return DecodedImage.of(DecodedImage.Mode.L, w, h, scaled(s, bitDepth)); // Pillow's L;2 / L;4 unpackers scale up
      }
      case "RGB" -> { return DecodedImage.of(DecodedImage.Mode.RGB, w, h, bitDepth == 16 ? highBytes(s) : bytes(s)); }
      case "RGBAlpha" -> { return DecodedImage.of(DecodedImage.Mode.RGBA, w, h, bitDepth == 16 ? highBytes(s) : bytes(s)); }
      case "GrayAlpha" -> {
        if (bitDepth == 8) return DecodedImage.of(DecodedImage.Mode.LA, w, h, bytes(s));
        // Pillow opens 16-bit gray+alpha as RGBA (rawmode LA;16B), keeping the high bytes.
        byte[] rgba = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 4)];
        for (int i = 0; i < w * h; i++) {
          rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = (byte) (s[2 * i] >> 8);
          rgba[4 * i + 3] = (byte) (s[2 * i + 1] >> 8);
        }
        return DecodedImage.of(DecodedImage.Mode.RGBA, w, h, rgba);
      }
      case "Palette" -> {
        if (!(image.getColorModel() instanceof IndexColorModel icm)) {
          throw new ImageRejectedException(describe(encoded) + ": palette PNG decoded without a palette; re-save the file");
        }
        return DecodedImage.ofPalette(w, h, bytes(s), paletteOf(icm));
      }
      default -> throw new ImageRejectedException(describe(encoded) + ": PNG colour type " + colorType + " is not supported");
    }
  }

  // ---------------------------------------------------------------- GIF

  /**
   * The first frame on its logical screen, as Pillow's GifImagePlugin loads frame 0: the canvas is the screen (grown
   * to hold the frame), filled with the transparent index if there is one, else index 0.
   */
  private DecodedImage gif(ImageReader reader, byte[] encoded) throws IOException {
    IIOMetadata streamMeta = reader.getStreamMetadata();
    IIOMetadata imageMeta = reader.getImageMetadata(0);
    Node stream = streamMeta == null ? null : streamMeta.getAsTree("javax_imageio_gif_stream_1.0");
    Node image = imageMeta.getAsTree("javax_imageio_gif_image_1.0");
    Node descriptor = child(image, "ImageDescriptor");
    int left = Integer.parseInt(attr(descriptor, "imageLeftPosition"));
    int top = Integer.parseInt(attr(descriptor, "imageTopPosition"));
    Node screen = stream == null ? null : child(stream, "LogicalScreenDescriptor");
    int screenW = screen == null ? 0 : Integer.parseInt(attr(screen, "logicalScreenWidth"));
    int screenH = screen == null ? 0 : Integer.parseInt(attr(screen, "logicalScreenHeight"));

    BufferedImage frame = reader.read(0);
    Raster r = frame.getRaster();
    int fw = r.getWidth(), fh = r.getHeight();
    int w = Math.max(screenW, left + fw), h = Math.max(screenH, top + fh);
    checkSize("gif", w, h, encoded);

    // The frame's palette: the local table, else the global one; Pillow ignores one that is the identity gray ramp.
    int[] palette = colorTable(child(image, "LocalColorTable"));
    if (palette == null && stream != null) palette = colorTable(child(stream, "GlobalColorTable"));
    if (palette != null && isIdentityGray(palette)) palette = null;

    int fill = 0;
    Node gce = child(image, "GraphicControlExtension");
    if (gce != null && Boolean.parseBoolean(attr(gce, "transparentColorFlag"))) {
      fill = Integer.parseInt(attr(gce, "transparentColorIndex"));
    }
    byte[] canvas = new byte[Math.multiplyExact(w, h)];
    if (fill != 0) Arrays.fill(canvas, (byte) fill);
    int[] s = r.getPixels(0, 0, fw, fh, (int[]) null);
    for (int y = 0; y < fh; y++) {
      for (int x = 0; x < fw; x++) canvas[(y + top) * w + x + left] = (byte) s[y * fw + x];
    }
    return palette == null ? DecodedImage.of(DecodedImage.Mode.L, w, h, canvas) : DecodedImage.ofPalette(w, h, canvas, palette);
  }

  private static int[] colorTable(Node table) {
    if (table == null) return null;
    int n = 0;
    for (Node e = table.getFirstChild(); e != null; e = e.getNextSibling()) n = Math.max(n, Integer.parseInt(attr(e, "index")) + 1);
    int[] palette = new int[n];
    for (Node e = table.getFirstChild(); e != null; e = e.getNextSibling()) {
      palette[Integer.parseInt(attr(e, "index"))] = Integer.parseInt(attr(e, "red")) << 16
          | Integer.parseInt(attr(e, "green")) << 8 | Integer.parseInt(attr(e, "blue"));
    }
    return palette;
  }

  /** GifImagePlugin._is_palette_needed, negated: entry i is (i, i, i) for every entry. */
  private static boolean isIdentityGray(int[] palette) {
    for (int i = 0; i < palette.length; i++) {
      if (palette[i] != (i << 16 | i << 8 | i)) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- JPEG, BMP

  private DecodedImage generic(BufferedImage image, String format, byte[] encoded) {
    Raster r = image.getRaster();
    int w = r.getWidth(), h = r.getHeight();
    if (image.getColorModel() instanceof IndexColorModel icm) {
      if (r.getNumBands() != 1) throw new ImageRejectedException(describe(encoded) + ": indexed " + format + " with several bands");
      return DecodedImage.ofPalette(w, h, bytes(r.getPixels(0, 0, w, h, (int[]) null)), paletteOf(icm));
    }
    int bits = image.getColorModel().getComponentSize(0);
    if (bits != 8) {
      throw new ImageRejectedException(describe(encoded) + ": " + bits + "-bit " + format.toUpperCase(Locale.ROOT)
          + " samples are not supported; convert the image to 8-bit");
    }
    int[] s = r.getPixels(0, 0, w, h, (int[]) null);
    return switch (r.getNumBands()) {
      case 1 -> DecodedImage.of(DecodedImage.Mode.L, w, h, bytes(s));
      case 3 -> DecodedImage.of(DecodedImage.Mode.RGB, w, h, bytes(s));
      case 4 -> DecodedImage.of(image.getColorModel().hasAlpha() ? DecodedImage.Mode.RGBA : DecodedImage.Mode.RGB, w, h,
          image.getColorModel().hasAlpha() ? bytes(s) : dropFourth(s));
      default -> throw new ImageRejectedException(describe(encoded) + ": " + format.toUpperCase(Locale.ROOT) + " image has "
          + r.getNumBands() + " colour bands (CMYK?); convert it to RGB first");
    };
  }

  // ---------------------------------------------------------------- helpers

  private static int[] paletteOf(IndexColorModel icm) {
    int[] p = new int[icm.getMapSize()];
    for (int i = 0; i < p.length; i++) p[i] = icm.getRed(i) << 16 | icm.getGreen(i) << 8 | icm.getBlue(i);
    return p;
  }

  private static byte[] bytes(int[] s) {
    byte[] b = new byte[s.length];
    for (int i = 0; i < s.length; i++) b[i] = (byte) s[i];
    return b;
  }

  private static byte[] highBytes(int[] s) {
    byte[] b = new byte[s.length];
    for (int i = 0; i < s.length; i++) b[i] = (byte) (s[i] >> 8);
    return b;
  }

  private static byte[] dropFourth(int[] s) {
    byte[] b = new byte[s.length / 4 * 3];
    for (int i = 0, j = 0; i < s.length; i += 4) {
      b[j++] = (byte) s[i];
      b[j++] = (byte) s[i + 1];
      b[j++] = (byte) s[i + 2];
    }
    return b;
  }

  /** Samples of {@code bits} bits scaled to 0..255 as Pillow's unpackers do (1 bit: 0/255, 2: ×85, 4: ×17). */
  private static byte[] scaled(int[] s, int bits) {
    int factor = 255 / ((1 << bits) - 1);
    byte[] b = new byte[s.length];
    for (int i = 0; i < s.length; i++) b[i] = (byte) (s[i] * factor);
    return b;
  }

  private static Node child(Node parent, String name) {
    if (parent == null) return null;
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (name.equals(n.getNodeName())) return n;
    }
    return null;
  }

  private static String attr(Node node, String name) {
    NamedNodeMap attrs = node.getAttributes();
    Node a = attrs == null ? null : attrs.getNamedItem(name);
    if (a == null) throw new IllegalStateException("image metadata node " + node.getNodeName() + " lacks " + name);
    return a.getNodeValue();
  }

  /** "image of 1234 bytes starting 89 50 4e 47" — enough to tell a PNG from an HTML error page in a reject log. */
  static String describe(byte[] encoded) {
    StringBuilder sb = new StringBuilder("image of ").append(encoded.length).append(" bytes starting");
    for (int i = 0; i < Math.min(8, encoded.length); i++) sb.append(String.format(" %02x", encoded[i] & 0xff));
    return sb.toString();
  }
}
