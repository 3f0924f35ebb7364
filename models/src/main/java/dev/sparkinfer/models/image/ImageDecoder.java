package dev.sparkinfer.models.image;

import static dev.sparkinfer.models.image.ImageRejectedException.CORRUPT;
import static dev.sparkinfer.models.image.ImageRejectedException.EMPTY;
import static dev.sparkinfer.models.image.ImageRejectedException.NOT_AN_IMAGE;
import static dev.sparkinfer.models.image.ImageRejectedException.TOO_LARGE;
import static dev.sparkinfer.models.image.ImageRejectedException.TRUNCATED;
import static dev.sparkinfer.models.image.ImageRejectedException.UNSUPPORTED;

import com.twelvemonkeys.imageio.plugins.bmp.BMPImageReaderSpi;
import com.twelvemonkeys.imageio.plugins.jpeg.JPEGImageReaderSpi;
import com.twelvemonkeys.imageio.plugins.webp.WebPImageReaderSpi;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.spi.ServiceRegistry;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

/**
 * Decodes JPEG, PNG, GIF (first frame), BMP and WebP (first frame) bytes with {@code javax.imageio} readers into the
 * mode and samples that {@code PIL.Image.open} would give, because the OpenAI/OpenCLIP transform resizes the image as
 * decoded. EXIF orientation is ignored, as Pillow's {@code open} and both CLIP references ignore it.
 *
 * <p>Pillow's modes: JPEG by its component count, "L", "RGB" or "CMYK" (4 components, always read with Adobe's
 * inverted convention); PNG by its IHDR colour type and bit depth (gray 1-bit "1", 2/4/8-bit "L" scaled to 0..255,
 * 16-bit "I;16"; palette "P"; gray+alpha "LA"; 16-bit RGB/RGBA keep the high byte, 16-bit gray+alpha becomes RGBA);
 * GIF "P" unless its palette is the identity gray ramp ("L"), laid on its logical screen; BMP "P", or "1"/"L" when
 * the palette is black/white or the identity gray ramp, "RGB", "RGBA" only with an alpha bit mask; WebP "RGBA" when
 * the header announces alpha, else "RGB". Samples are read from the raster, never through a colour model (which
 * would apply a gamma curve to gray images or an ICC profile).
 *
 * <p>Which reader decodes what, chosen deliberately rather than by {@code ImageIO.getImageReaders}:
 * <ul>
 *   <li>JPEG: TwelveMonkeys' reader, but only its {@code readRaster}: the raw components, decoded and upsampled by the
 *       libjpeg inside the JDK (TwelveMonkeys delegates to the JDK's reader after dropping broken segments, such as
 *       bad ICC chunks, that make the JDK's reader fail). This class converts them with libjpeg's own fixed-point
 *       tables ({@code jdcolor.c}) after guessing the colour space as libjpeg does ({@code jdapimin.c}), which is what
 *       libjpeg-turbo does for Pillow. Not TwelveMonkeys' {@code read}: it converts CMYK/YCCK to RGB through ICC
 *       profiles (or an approximation) and applies embedded non-sRGB profiles, and Pillow does neither. Not the JDK's
 *       own {@code read}: it refuses CMYK and guesses RGB for unmarked un-subsampled files where libjpeg guesses
 *       YCbCr. For ordinary YCbCr JPEGs the samples equal what the JDK's {@code read} gave before, bit for bit.
 *   <li>PNG, GIF: the JDK's readers.
 *   <li>BMP: TwelveMonkeys' reader (OS/2 and v4/v5 variants; keeps the palette of gray BMPs, which the JDK's reader
 *       turns into a gray image, while Pillow's mode depends on that palette; reads the size of a huge header
 *       instead of failing, so a bomb is refused for its size).
 *   <li>WebP: TwelveMonkeys' reader (the JDK has none). Its lossy decoder replicates chroma (no fancy upsampling)
 *       and rounds YUV to RGB its own way, so lossy WebP differs from libwebp by a few levels, more at sharp colour
 *       edges; lossless WebP is exact.
 * </ul>
 * The readers come from provider instances held here: TwelveMonkeys' made directly (its JPEG one in a private
 * registry, where it finds the JDK's reader as its delegate), the JDK's taken from the default registry by class
 * name. ImageIO's own lookup is not used because it finds plugins with ServiceLoader on the class loader of the thread
 * that first touched ImageIO, which on a Spark executor need not see the job's jar, so plugins would silently be
 * missing; and no other plugin in the JVM can change which reader decodes a format.
 *
 * <p>The pixel count is checked from the header (for WebP and JPEG parsed here; the GIF logical screen, which is
 * Pillow's size) before any pixel is decoded, so a decompression bomb costs nothing. Every failure is an
 * {@link ImageRejectedException} whose {@link ImageRejectedException#reason() reason} is a short stable category.
 */
public final class ImageDecoder {
  /**
   * Default refusal threshold: Pillow's {@code Image.MAX_IMAGE_PIXELS} (1024 × 1024 × 1024 / 4 / 3), the size above
   * which Pillow warns of a decompression bomb (it refuses at twice that).
   */
  public static final long DEFAULT_MAX_PIXELS = 89_478_485L;

  private static final String FORMATS = "JPEG, PNG, GIF, BMP or WebP";

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
      throw new ImageRejectedException(EMPTY, "the row has no image bytes; expected a " + FORMATS + " file");
    }
    Format format = Format.sniff(encoded);
    if (format == Format.UNKNOWN) {
      throw new ImageRejectedException(NOT_AN_IMAGE, describe(encoded) + " is not a " + FORMATS + " file"
          + textHint(encoded) + "; check what the source actually returned");
    }
    if (!format.decoded) {
      throw new ImageRejectedException(UNSUPPORTED, describe(encoded) + " is " + format.label + ", which is not decoded;"
          + " convert it to " + FORMATS + " first");
    }
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      return switch (format) {
        case JPEG -> jpeg(encoded, in);
        case PNG -> png(encoded, in);
        case GIF -> gif(encoded, in);
        case BMP -> bmp(encoded, in);
        case WEBP -> webp(encoded, in);
        default -> throw new IllegalStateException(format.label);
      };
    } catch (ImageRejectedException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      String what = format.label + " " + describe(encoded);
      if (causedBy(e, EOFException.class) || endsEarly(format, encoded)) {
        throw new ImageRejectedException(TRUNCATED, what + " ends before its image data does (" + summary(e)
            + "); the file was cut short, fetch it again", e);
      }
      throw new ImageRejectedException(CORRUPT, what + " is damaged or a variant the decoder refuses (" + summary(e)
          + "); re-encode it", e);
    }
  }

  private void checkSize(String format, long width, long height, byte[] encoded) {
    if (width < 1 || height < 1) {
      throw new ImageRejectedException(CORRUPT, format + " " + describe(encoded) + ": the header says " + width + "x"
          + height + " pixels; an image needs at least one pixel");
    }
    if (width * height > maxPixels) {
      throw new ImageRejectedException(TOO_LARGE, format + " " + describe(encoded) + " is " + width + "x" + height + " = "
          + (width * height) + " pixels, over the limit of " + maxPixels + " (a decompression bomb, or a very large"
          + " image); nothing was decoded; downscale it first or raise the image pixel limit");
    }
  }

  // ---------------------------------------------------------------- formats

  /** What the first bytes say; the formats that are recognised but not decoded get a clearer message than "not an image". */
  enum Format {
    JPEG("JPEG", true), PNG("PNG", true), GIF("GIF", true), BMP("BMP", true), WEBP("WebP", true),
    TIFF("TIFF", false), HEIF("HEIF/AVIF", false), JPEG2000("JPEG 2000", false), JPEGXL("JPEG XL", false),
    ICO("ICO", false), PSD("Photoshop PSD", false), UNKNOWN("unknown", false);

    final String label;
    final boolean decoded;

    Format(String label, boolean decoded) {
      this.label = label;
      this.decoded = decoded;
    }

    static Format sniff(byte[] b) {
      if (starts(b, 0, 0xff, 0xd8, 0xff)) return JPEG;
      if (starts(b, 0, 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a)) return PNG;
      if (starts(b, 0, 'G', 'I', 'F', '8') && (starts(b, 4, '7', 'a') || starts(b, 4, '9', 'a'))) return GIF;
      if (starts(b, 0, 'B', 'M')) return BMP;
      if (starts(b, 0, 'R', 'I', 'F', 'F') && starts(b, 8, 'W', 'E', 'B', 'P')) return WEBP;
      if (starts(b, 0, 'I', 'I', 42, 0) || starts(b, 0, 'M', 'M', 0, 42)) return TIFF;
      if (starts(b, 4, 'f', 't', 'y', 'p') && b.length >= 12) {
        String brand = new String(b, 8, 4, StandardCharsets.ISO_8859_1);
        if (List.of("heic", "heix", "hevc", "mif1", "msf1", "avif", "avis").contains(brand)) return HEIF;
      }
      if (starts(b, 0, 0, 0, 0, 0x0c, 'j', 'P', ' ', ' ') || starts(b, 0, 0xff, 0x4f, 0xff, 0x51)) return JPEG2000;
      if (starts(b, 0, 0xff, 0x0a) || starts(b, 0, 0, 0, 0, 0x0c, 'J', 'X', 'L', ' ')) return JPEGXL;
      if (starts(b, 0, 0, 0, 1, 0) && b.length >= 6 && b[4] != 0) return ICO;
      if (starts(b, 0, '8', 'B', 'P', 'S')) return PSD;
      return UNKNOWN;
    }
  }

  private static boolean starts(byte[] b, int at, int... magic) {
    if (b.length < at + magic.length) return false;
    for (int i = 0; i < magic.length; i++) {
      if ((b[at + i] & 0xff) != magic[i]) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- readers

  /** The reader providers, resolved once per JVM (class loader) and shared; each decode makes its own reader. */
  private static final class Readers {
    static final ImageReaderSpi PNG = jdk("com.sun.imageio.plugins.png.PNGImageReaderSpi");
    static final ImageReaderSpi GIF = jdk("com.sun.imageio.plugins.gif.GIFImageReaderSpi");
    static final ImageReaderSpi BMP = new BMPImageReaderSpi();
    static final ImageReaderSpi WEBP = new WebPImageReaderSpi();
    /** Kept referenced: a registry that is collected deregisters its providers. */
    static final ServiceRegistry JPEG_REGISTRY = new ServiceRegistry(List.<Class<?>>of(ImageReaderSpi.class).iterator());
    static final ImageReaderSpi JPEG = twelveMonkeysJpeg();

    /** The JDK registers its own readers in every IIORegistry it makes; ServiceLoader plays no part in that. */
    private static ImageReaderSpi jdk(String className) {
      Iterator<ImageReaderSpi> it = IIORegistry.getDefaultInstance().getServiceProviders(ImageReaderSpi.class, false);
      while (it.hasNext()) {
        ImageReaderSpi spi = it.next();
        if (spi.getClass().getName().equals(className)) return spi;
      }
      throw new IllegalStateException("the JDK's image reader " + className + " is not registered; this JVM lacks"
          + " the java.desktop module's ImageIO plugins");
    }

    /** TwelveMonkeys' JPEG provider looks up the JDK's as its delegate when registered, so register both here. */
    private static ImageReaderSpi twelveMonkeysJpeg() {
      JPEG_REGISTRY.registerServiceProvider(jdk("com.sun.imageio.plugins.jpeg.JPEGImageReaderSpi"), ImageReaderSpi.class);
      JPEGImageReaderSpi spi = new JPEGImageReaderSpi();
      JPEG_REGISTRY.registerServiceProvider(spi, ImageReaderSpi.class);
      return spi;
    }

    static ImageReader create(ImageReaderSpi spi, ImageInputStream in, ReadWarnings warnings) throws IOException {
      ImageReader reader = spi.createReaderInstance();
      reader.addIIOReadWarningListener(warnings);
      reader.setInput(in, false, false); // not seek-forward-only: TwelveMonkeys' JPEG reader rewinds to its segments
      return reader;
    }
  }

  /** Collects reader warnings; libjpeg reports a file that ends early only as one. */
  private static final class ReadWarnings implements javax.imageio.event.IIOReadWarningListener {
    final StringBuilder all = new StringBuilder();

    @Override
    public void warningOccurred(ImageReader source, String warning) {
      if (all.length() < 500) all.append(all.length() == 0 ? "" : "; ").append(warning);
    }

    boolean contains(String text) { return all.indexOf(text) >= 0; }
  }

  // ---------------------------------------------------------------- JPEG

  /** libjpeg's jpeg_color_space after {@code default_decompress_parms}. */
  private enum JpegColor { GRAY, YCBCR, RGB, CMYK, YCCK }

  /** What this class needs from the markers up to the first SOS: size, components and the colour-space hints. */
  private record JpegHeader(int sof, int precision, int width, int height, int[] componentIds, boolean jfif,
                            int adobeTransform) {
    /** {@code jdapimin.c default_decompress_parms} (libjpeg 6b, libjpeg-turbo): JFIF wins over Adobe, then ids. */
    JpegColor color() {
      int[] id = componentIds;
      return switch (id.length) {
        case 1 -> JpegColor.GRAY;
        case 3 -> jfif ? JpegColor.YCBCR
            : adobeTransform == 0 ? JpegColor.RGB
            : adobeTransform > 0 ? JpegColor.YCBCR
            : id[0] == 'R' && id[1] == 'G' && id[2] == 'B' ? JpegColor.RGB : JpegColor.YCBCR;
        case 4 -> adobeTransform == 0 ? JpegColor.CMYK : adobeTransform > 0 ? JpegColor.YCCK : JpegColor.CMYK;
        default -> throw new IllegalStateException(id.length + " components");
      };
    }
  }

  /**
   * The markers from SOI to the first SOS, as libjpeg's {@code jdmarker.c} reads them: junk before a marker and fill
   * bytes are skipped; APP0 "JFIF" counts with at least 14 data bytes, APP14 "Adobe" with at least 12.
   */
  private static JpegHeader jpegHeader(byte[] b) {
    int sof = -1, precision = 0, width = 0, height = 0;
    int[] ids = null;
    boolean jfif = false;
    int adobe = -1;
    int i = 2;
    while (true) {
      while (i < b.length && (b[i] & 0xff) != 0xff) i++; // libjpeg warns of "extraneous bytes" and goes on
      while (i < b.length && (b[i] & 0xff) == 0xff) i++;
      if (i >= b.length) throw jpegEnds(b, sof < 0 ? "its frame header (SOF)" : "its first scan (SOS)");
      int marker = b[i++] & 0xff;
      if (marker == 0x01 || marker >= 0xd0 && marker <= 0xd8) continue; // TEM, RSTn, SOI: no length
      if (marker == 0xd9) {
        throw new ImageRejectedException(CORRUPT, "JPEG " + describe(b) + " has no image: its end marker comes before"
            + " a scan");
      }
      if (i + 2 > b.length) throw jpegEnds(b, "a marker's length");
      int length = (b[i] & 0xff) << 8 | (b[i + 1] & 0xff);
      int data = i + 2;
      int end = i + length;
      if (length < 2 || end > b.length) throw jpegEnds(b, String.format("its marker 0x%02x's %d bytes", marker, length));
      if (marker == 0xda) {
        if (sof < 0) throw new ImageRejectedException(CORRUPT, "JPEG " + describe(b) + " has a scan before its frame header");
        return new JpegHeader(sof, precision, width, height, ids, jfif, adobe);
      }
      boolean isSof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
      if (isSof && sof < 0) {
        if (length < 8) throw new ImageRejectedException(CORRUPT, "JPEG " + describe(b) + " has a frame header of " + length + " bytes");
        sof = marker;
        precision = b[data] & 0xff;
        height = (b[data + 1] & 0xff) << 8 | (b[data + 2] & 0xff);
        width = (b[data + 3] & 0xff) << 8 | (b[data + 4] & 0xff);
        int n = b[data + 5] & 0xff;
        if (length < 8 + 3 * n) throw jpegEnds(b, "its component list");
        ids = new int[n];
        for (int c = 0; c < n; c++) ids[c] = b[data + 6 + 3 * c] & 0xff;
      } else if (marker == 0xe0 && length - 2 >= 14 && starts(b, data, 'J', 'F', 'I', 'F', 0)) {
        jfif = true;
      } else if (marker == 0xee && length - 2 >= 12 && starts(b, data, 'A', 'd', 'o', 'b', 'e')) {
        adobe = b[data + 11] & 0xff;
      }
      i = end;
    }
  }

  private static ImageRejectedException jpegEnds(byte[] b, String what) {
    return new ImageRejectedException(TRUNCATED, "JPEG " + describe(b) + " ends before " + what + "; the file was cut"
        + " short, fetch it again");
  }

  private DecodedImage jpeg(byte[] encoded, ImageInputStream in) throws IOException {
    JpegHeader h = jpegHeader(encoded);
    checkSize("JPEG", h.width, h.height, encoded);
    if (h.precision != 8) {
      throw new ImageRejectedException(UNSUPPORTED, "JPEG " + describe(encoded) + " has " + h.precision + "-bit samples;"
          + " only 8-bit JPEG is decoded (as in Pillow); convert it to 8-bit");
    }
    int n = h.componentIds.length;
    if (n != 1 && n != 3 && n != 4) {
      throw new ImageRejectedException(UNSUPPORTED, "JPEG " + describe(encoded) + " has " + n + " colour components;"
          + " only gray (1), colour (3) and CMYK (4) JPEGs are decoded, as in Pillow");
    }
    if (h.sof >= 0xc5) {
      throw new ImageRejectedException(UNSUPPORTED, "JPEG " + describe(encoded) + String.format(" is a SOF%d", h.sof - 0xc0)
          + " (hierarchical or arithmetic-coded) JPEG, which the decoder does not read; re-encode it as baseline JPEG");
    }
    ReadWarnings warnings = new ReadWarnings();
    ImageReader reader = Readers.create(Readers.JPEG, in, warnings);
    Raster raw;
    try {
      raw = reader.readRaster(0, null);
    } finally {
      reader.dispose();
    }
    // The JDK's source manager ends a short file with a fake EOI and warns; libjpeg-turbo under Pillow suspends and
    // Pillow raises "image file is truncated" instead, even when only the EOI marker itself is missing.
    if (warnings.contains("Missing EOI")) {
      throw new ImageRejectedException(TRUNCATED, "JPEG " + describe(encoded) + " ends before its image data does ("
          + warnings.all + "); the file was cut short, fetch it again");
    }
    if (raw.getNumBands() != n || raw.getWidth() != h.width || raw.getHeight() != h.height) {
      throw new IllegalStateException("JPEG reader returned " + raw.getWidth() + "x" + raw.getHeight() + "x"
          + raw.getNumBands() + " for a " + h.width + "x" + h.height + "x" + n + " frame");
    }
    byte[] s = bytesOf(raw, 0);
    int pixels = h.width * h.height;
    switch (h.color()) {
      case GRAY -> { return DecodedImage.of(DecodedImage.Mode.L, h.width, h.height, s); }
      case RGB -> { return DecodedImage.of(DecodedImage.Mode.RGB, h.width, h.height, s); }
      case YCBCR -> {
        for (int p = 0; p < 3 * pixels; p += 3) yccToRgb(s, p);
        return DecodedImage.of(DecodedImage.Mode.RGB, h.width, h.height, s);
      }
      case CMYK -> {
        // Pillow's rawmode "CMYK;I" (JpegImagePlugin: "assume adobe conventions"): every sample inverted.
        for (int p = 0; p < s.length; p++) s[p] = (byte) ~s[p];
        return DecodedImage.of(DecodedImage.Mode.CMYK, h.width, h.height, s);
      }
      case YCCK -> {
        // libjpeg's ycck_cmyk_convert gives C = 255 - R of the YCC part and passes K through; "CMYK;I" inverts all
        // four, so C = R (already clamped), M = G, Y = B, K = 255 - K.
        for (int p = 0; p < 4 * pixels; p += 4) {
          yccToRgb(s, p);
          s[p + 3] = (byte) ~s[p + 3];
        }
        return DecodedImage.of(DecodedImage.Mode.CMYK, h.width, h.height, s);
      }
      default -> throw new IllegalStateException();
    }
  }

  /** libjpeg's {@code build_ycc_rgb_table}: 16-bit fixed point, rounding folded into the tables. */
  private static final int[] CR_R = new int[256], CB_B = new int[256], CR_G = new int[256], CB_G = new int[256];

  static {
    for (int i = 0, x = -128; i < 256; i++, x++) {
      CR_R[i] = (int) ((fix(1.40200) * x + (1L << 15)) >> 16);
      CB_B[i] = (int) ((fix(1.77200) * x + (1L << 15)) >> 16);
      CR_G[i] = (int) (-fix(0.71414) * x);
      CB_G[i] = (int) (-fix(0.34414) * x + (1L << 15));
    }
  }

  private static long fix(double v) {
    return (long) (v * (1L << 16) + 0.5);
  }

  /** {@code ycc_rgb_convert} on the three bytes at {@code p}, in place. */
  private static void yccToRgb(byte[] s, int p) {
    int y = s[p] & 0xff, cb = s[p + 1] & 0xff, cr = s[p + 2] & 0xff;
    s[p] = (byte) clamp8(y + CR_R[cr]);
    s[p + 1] = (byte) clamp8(y + ((CB_G[cb] + CR_G[cr]) >> 16));
    s[p + 2] = (byte) clamp8(y + CB_B[cb]);
  }

  private static int clamp8(int v) {
    return v < 0 ? 0 : Math.min(v, 255);
  }

  // ---------------------------------------------------------------- PNG

  private DecodedImage png(byte[] encoded, ImageInputStream in) throws IOException {
    ImageReader reader = Readers.create(Readers.PNG, in, new ReadWarnings());
    try {
      checkSize("PNG", reader.getWidth(0), reader.getHeight(0), encoded);
      IIOMetadata meta = reader.getImageMetadata(0);
      Node ihdr = child(meta.getAsTree("javax_imageio_png_1.0"), "IHDR");
      String colorType = attr(ihdr, "colorType");
      int bitDepth = Integer.parseInt(attr(ihdr, "bitDepth"));
      BufferedImage image = reader.read(0);
      Raster r = image.getRaster();
      int w = r.getWidth(), h = r.getHeight();
      switch (colorType) {
        case "Grayscale" -> {
          if (bitDepth == 16) return DecodedImage.of16(w, h, charsOf(r));
          if (bitDepth == 1) return DecodedImage.of(DecodedImage.Mode.ONE, w, h, scaled(bytesOf(r, 0), 1));
          return DecodedImage.of(DecodedImage.Mode.L, w, h, scaled(bytesOf(r, 0), bitDepth)); // Pillow's L;2 / L;4 scale up
        }
        case "RGB" -> { return DecodedImage.of(DecodedImage.Mode.RGB, w, h, bytesOf(r, bitDepth == 16 ? 8 : 0)); }
        case "RGBAlpha" -> { return DecodedImage.of(DecodedImage.Mode.RGBA, w, h, bytesOf(r, bitDepth == 16 ? 8 : 0)); }
        case "GrayAlpha" -> {
          if (bitDepth == 8) return DecodedImage.of(DecodedImage.Mode.LA, w, h, bytesOf(r, 0));
          // Pillow opens 16-bit gray+alpha as RGBA (rawmode LA;16B), keeping the high bytes.
          byte[] la = bytesOf(r, 8);
          byte[] rgba = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 4)];
          for (int i = 0; i < w * h; i++) {
            rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = la[2 * i];
            rgba[4 * i + 3] = la[2 * i + 1];
          }
          return DecodedImage.of(DecodedImage.Mode.RGBA, w, h, rgba);
        }
        case "Palette" -> {
          if (!(image.getColorModel() instanceof IndexColorModel icm)) {
            throw new ImageRejectedException(CORRUPT, "PNG " + describe(encoded) + ": a palette image decoded without a"
                + " palette; re-save the file");
          }
          return DecodedImage.ofPalette(w, h, bytesOf(r, 0), paletteOf(icm));
        }
        default -> throw new ImageRejectedException(UNSUPPORTED, "PNG " + describe(encoded) + ": colour type " + colorType
            + " is not decoded");
      }
    } finally {
      reader.dispose();
    }
  }

  // ---------------------------------------------------------------- GIF

  /**
   * The first frame on its logical screen, as Pillow's GifImagePlugin loads frame 0: the canvas is the screen (grown
   * to hold the frame), filled with the transparent index if there is one, else index 0.
   */
  private DecodedImage gif(byte[] encoded, ImageInputStream in) throws IOException {
    ImageReader reader = Readers.create(Readers.GIF, in, new ReadWarnings());
    try {
      IIOMetadata streamMeta = reader.getStreamMetadata();
      Node stream = streamMeta == null ? null : streamMeta.getAsTree("javax_imageio_gif_stream_1.0");
      Node screen = stream == null ? null : child(stream, "LogicalScreenDescriptor");
      int screenW = screen == null ? 0 : Integer.parseInt(attr(screen, "logicalScreenWidth"));
      int screenH = screen == null ? 0 : Integer.parseInt(attr(screen, "logicalScreenHeight"));
      checkSize("GIF", Math.max(screenW, 1), Math.max(screenH, 1), encoded); // the screen is Pillow's size

      IIOMetadata imageMeta = reader.getImageMetadata(0);
      Node image = imageMeta.getAsTree("javax_imageio_gif_image_1.0");
      Node descriptor = child(image, "ImageDescriptor");
      int left = Integer.parseInt(attr(descriptor, "imageLeftPosition"));
      int top = Integer.parseInt(attr(descriptor, "imageTopPosition"));
      int fw = Integer.parseInt(attr(descriptor, "imageWidth"));
      int fh = Integer.parseInt(attr(descriptor, "imageHeight"));
      int w = Math.max(screenW, left + fw), h = Math.max(screenH, top + fh);
      checkSize("GIF", w, h, encoded);

      // The frame's palette: the local table, else the global one; Pillow ignores one that is the identity gray ramp.
      int[] palette = colorTable(child(image, "LocalColorTable"));
      if (palette == null && stream != null) palette = colorTable(child(stream, "GlobalColorTable"));
      if (palette != null && isIdentityGray(palette)) palette = null;

      int fill = 0;
      Node gce = child(image, "GraphicControlExtension");
      if (gce != null && Boolean.parseBoolean(attr(gce, "transparentColorFlag"))) {
        fill = Integer.parseInt(attr(gce, "transparentColorIndex"));
      }
      Raster r = reader.read(0).getRaster();
      byte[] canvas = new byte[Math.multiplyExact(w, h)];
      if (fill != 0) Arrays.fill(canvas, (byte) fill);
      byte[] s = bytesOf(r, 0);
      int rw = r.getWidth();
      for (int y = 0; y < Math.min(fh, r.getHeight()); y++) System.arraycopy(s, y * rw, canvas, (y + top) * w + left, Math.min(fw, rw));
      return palette == null ? DecodedImage.of(DecodedImage.Mode.L, w, h, canvas) : DecodedImage.ofPalette(w, h, canvas, palette);
    } finally {
      reader.dispose();
    }
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

  // ---------------------------------------------------------------- BMP

  private DecodedImage bmp(byte[] encoded, ImageInputStream in) throws IOException {
    ImageReader reader = Readers.create(Readers.BMP, in, new ReadWarnings());
    try {
      checkSize("BMP", reader.getWidth(0), reader.getHeight(0), encoded);
      BufferedImage image = reader.read(0);
      ColorModel cm = image.getColorModel();
      Raster r = image.getRaster();
      int w = r.getWidth(), h = r.getHeight();
      if (cm instanceof IndexColorModel icm) {
        byte[] index = bytesOf(r, 0);
        int[] palette = paletteOf(icm);
        // BmpImagePlugin: a palette of black and white (2 colours) or of (i, i, i) for every index is dropped.
        if (palette.length == 2 && palette[0] == 0 && palette[1] == 0xffffff) {
          for (int i = 0; i < index.length; i++) index[i] = (byte) (index[i] == 0 ? 0 : 255);
          return DecodedImage.of(DecodedImage.Mode.ONE, w, h, index);
        }
        if (palette.length != 2 && isIdentityGray(palette)) return DecodedImage.of(DecodedImage.Mode.L, w, h, index);
        return DecodedImage.ofPalette(w, h, index, palette);
      }
      int bands = r.getNumBands();
      if (bands != 3 && bands != 4) {
        throw new ImageRejectedException(UNSUPPORTED, "BMP " + describe(encoded) + " decoded to " + bands + " bands;"
            + " convert it to 24-bit RGB");
      }
      // 16-bit BMPs have 5- or 6-bit fields: Pillow's BGR;15 / BGR;16 unpackers scale them as v * 255 / max.
      byte[] s = new byte[Math.multiplyExact(Math.multiplyExact(w, h), bands)];
      int[] row = new int[w * bands];
      int[] max = new int[bands];
      for (int b = 0; b < bands; b++) max[b] = (1 << cm.getComponentSize(b)) - 1;
      for (int y = 0; y < h; y++) {
        r.getPixels(r.getMinX(), r.getMinY() + y, w, 1, row);
        for (int i = 0; i < row.length; i++) {
          int m = max[i % bands];
          s[y * row.length + i] = (byte) (m == 255 ? row[i] : row[i] * 255 / m);
        }
      }
      if (bands == 3) return DecodedImage.of(DecodedImage.Mode.RGB, w, h, s);
      return cm.hasAlpha() ? DecodedImage.of(DecodedImage.Mode.RGBA, w, h, s)
          : DecodedImage.of(DecodedImage.Mode.RGB, w, h, dropFourth(s));
    } finally {
      reader.dispose();
    }
  }

  // ---------------------------------------------------------------- WebP

  /** The WebP header: the canvas (Pillow's size), whether it announces alpha, and frame 0's place on an animation. */
  private record WebPHeader(int width, int height, boolean alpha, boolean animated, int frameX, int frameY) {}

  /** RIFF "WEBP" and its first chunk: "VP8 " (lossy), "VP8L" (lossless) or "VP8X" (extended: alpha, animation). */
  private static WebPHeader webpHeader(byte[] b) {
    if (b.length < 30) throw webpEnds(b, "its header");
    String chunk = new String(b, 12, 4, StandardCharsets.ISO_8859_1);
    switch (chunk) {
      case "VP8 " -> {
        if (!starts(b, 23, 0x9d, 0x01, 0x2a)) {
          throw new ImageRejectedException(CORRUPT, "WebP " + describe(b) + ": its VP8 frame lacks the start code");
        }
        return new WebPHeader(u16(b, 26) & 0x3fff, u16(b, 28) & 0x3fff, false, false, 0, 0);
      }
      case "VP8L" -> {
        if ((b[20] & 0xff) != 0x2f) {
          throw new ImageRejectedException(CORRUPT, "WebP " + describe(b) + ": its VP8L bitstream lacks the signature");
        }
        int bits = u16(b, 21) | u16(b, 23) << 16;
        return new WebPHeader((bits & 0x3fff) + 1, (bits >>> 14 & 0x3fff) + 1, (bits >>> 28 & 1) != 0, false, 0, 0);
      }
      case "VP8X" -> {
        int flags = b[20] & 0xff;
        int w = (u16(b, 24) | (b[26] & 0xff) << 16) + 1, h = (u16(b, 27) | (b[29] & 0xff) << 16) + 1;
        boolean animated = (flags & 0x02) != 0;
        int fx = 0, fy = 0;
        if (animated) { // frame 0's offset, from the first ANMF chunk (offsets are stored halved)
          long at = 30;
          while (at + 8 <= b.length && !starts(b, (int) at, 'A', 'N', 'M', 'F')) {
            long size = (u16(b, (int) at + 4) | (long) u16(b, (int) at + 6) << 16);
            at += 8 + (size + 1 & ~1L);
          }
          if (at + 14 > b.length) throw webpEnds(b, "its first animation frame");
          int f = (int) at + 8;
          fx = 2 * (u16(b, f) | (b[f + 2] & 0xff) << 16);
          fy = 2 * (u16(b, f + 3) | (b[f + 5] & 0xff) << 16);
        }
        return new WebPHeader(w, h, (flags & 0x10) != 0, animated, fx, fy);
      }
      default -> throw new ImageRejectedException(UNSUPPORTED, "WebP " + describe(b) + ": first chunk '" + chunk
          + "' is not VP8, VP8L or VP8X");
    }
  }

  private static ImageRejectedException webpEnds(byte[] b, String what) {
    return new ImageRejectedException(TRUNCATED, "WebP " + describe(b) + " ends before " + what + "; the file was cut"
        + " short, fetch it again");
  }

  /**
   * Pillow decodes every WebP with libwebp's WebPAnimDecoder: RGBA when the header announces alpha, else RGB; an
   * animation's frame 0 on a canvas of transparent black (a key frame is copied, not blended).
   */
  private DecodedImage webp(byte[] encoded, ImageInputStream in) throws IOException {
    WebPHeader hdr = webpHeader(encoded);
    checkSize("WebP", hdr.width, hdr.height, encoded);
    // libwebp's demuxer (under Pillow) refuses a file shorter than its RIFF size; TwelveMonkeys' lossless decoder
    // would return the part it has.
    long riffEnd = (u16(encoded, 4) | (long) u16(encoded, 6) << 16) + 8;
    if (riffEnd > encoded.length) {
      throw new ImageRejectedException(TRUNCATED, "WebP " + describe(encoded) + " ends at byte " + encoded.length
          + " but its RIFF header says " + riffEnd + "; the file was cut short, fetch it again");
    }
    ImageReader reader = Readers.create(Readers.WEBP, in, new ReadWarnings());
    BufferedImage image;
    try {
      image = reader.read(0);
    } finally {
      reader.dispose();
    }
    Raster r = image.getRaster();
    int fw = r.getWidth(), fh = r.getHeight(), fb = r.getNumBands();
    if (fb != 3 && fb != 4) throw new IllegalStateException("WebP reader returned " + fb + " bands");
    if (hdr.frameX + fw > hdr.width || hdr.frameY + fh > hdr.height) {
      throw new ImageRejectedException(CORRUPT, "WebP " + describe(encoded) + ": frame 0 (" + fw + "x" + fh + " at "
          + hdr.frameX + "," + hdr.frameY + ") lies outside the " + hdr.width + "x" + hdr.height + " canvas");
    }
    int bands = hdr.alpha ? 4 : 3;
    byte[] frame = bytesOf(r, 0);
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(hdr.width, hdr.height), bands)];
    for (int y = 0; y < fh; y++) {
      for (int x = 0; x < fw; x++) {
        int src = (y * fw + x) * fb, dst = ((y + hdr.frameY) * hdr.width + x + hdr.frameX) * bands;
        out[dst] = frame[src];
        out[dst + 1] = frame[src + 1];
        out[dst + 2] = frame[src + 2];
        if (bands == 4) out[dst + 3] = fb == 4 ? frame[src + 3] : (byte) 255;
      }
    }
    return DecodedImage.of(hdr.alpha ? DecodedImage.Mode.RGBA : DecodedImage.Mode.RGB, hdr.width, hdr.height, out);
  }

  private static int u16(byte[] b, int at) {
    return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
  }

  // ---------------------------------------------------------------- helpers

  /** The raster's samples [height][width][bands] as bytes, each shifted right by {@code shift}, read row by row. */
  private static byte[] bytesOf(Raster r, int shift) {
    int w = r.getWidth(), h = r.getHeight(), n = r.getNumBands();
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), n)];
    int[] row = new int[w * n];
    for (int y = 0; y < h; y++) {
      r.getPixels(r.getMinX(), r.getMinY() + y, w, 1, row);
      for (int i = 0; i < row.length; i++) out[y * row.length + i] = (byte) (row[i] >> shift);
    }
    return out;
  }

  /** A one-band 16-bit raster's samples. */
  private static char[] charsOf(Raster r) {
    int w = r.getWidth(), h = r.getHeight();
    char[] out = new char[Math.multiplyExact(w, h)];
    int[] row = new int[w];
    for (int y = 0; y < h; y++) {
      r.getPixels(r.getMinX(), r.getMinY() + y, w, 1, row);
      for (int x = 0; x < w; x++) out[y * w + x] = (char) row[x];
    }
    return out;
  }

  private static int[] paletteOf(IndexColorModel icm) {
    int[] p = new int[icm.getMapSize()];
    for (int i = 0; i < p.length; i++) p[i] = icm.getRed(i) << 16 | icm.getGreen(i) << 8 | icm.getBlue(i);
    return p;
  }

  private static byte[] dropFourth(byte[] s) {
    byte[] b = new byte[s.length / 4 * 3];
    for (int i = 0, j = 0; i < s.length; i += 4) {
      b[j++] = s[i];
      b[j++] = s[i + 1];
      b[j++] = s[i + 2];
    }
    return b;
  }

  /** Samples of {@code bits} bits scaled to 0..255 in place, as Pillow's unpackers do (1 bit: 0/255, 2: ×85, 4: ×17). */
  private static byte[] scaled(byte[] s, int bits) {
    int factor = 255 / ((1 << bits) - 1);
    for (int i = 0; i < s.length; i++) s[i] = (byte) ((s[i] & 0xff) * factor);
    return s;
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

  /**
   * Whether a file the reader refused lacks its format's end, so that "truncated" is the likelier reason than
   * "damaged" (readers often report a cut-off chunk as an invalid length rather than as an end of file). Only used to
   * word a failure: Pillow, too, reads a PNG without IEND or a GIF without its trailer when the pixels are all there.
   */
  private static boolean endsEarly(Format format, byte[] b) {
    int n = b.length;
    return switch (format) {
      case PNG -> n < 12 || !starts(b, n - 8, 'I', 'E', 'N', 'D');
      case GIF -> (b[n - 1] & 0xff) != 0x3b;
      case WEBP -> n < 12 || (u16(b, 4) | (long) u16(b, 6) << 16) + 8 > n;
      case BMP -> n < 6 || (u16(b, 2) | (long) u16(b, 4) << 16) > n;
      default -> false;
    };
  }

  private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) return true;
    }
    return false;
  }

  private static String summary(Throwable e) {
    StringBuilder sb = new StringBuilder(e.getClass().getSimpleName()).append(": ").append(e.getMessage());
    if (e.getCause() != null && e.getCause() != e) {
      sb.append(", caused by ").append(e.getCause().getClass().getSimpleName()).append(": ").append(e.getCause().getMessage());
    }
    return sb.toString();
  }

  /** "image of 1234 bytes starting 89 50 4e 47" — enough to tell a PNG from an HTML error page in a reject log. */
  static String describe(byte[] encoded) {
    StringBuilder sb = new StringBuilder("image of ").append(encoded.length).append(" bytes starting");
    for (int i = 0; i < Math.min(8, encoded.length); i++) sb.append(String.format(" %02x", encoded[i] & 0xff));
    return sb.toString();
  }

  /** For bytes that look like text (an HTML error page, JSON, a URL): the first characters, quoted. */
  private static String textHint(byte[] b) {
    int n = Math.min(b.length, 64), printable = 0;
    for (int i = 0; i < n; i++) {
      int c = b[i] & 0xff;
      if (c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t') printable++;
    }
    if (printable < n * 0.9) return "";
    String head = new String(b, 0, n, StandardCharsets.ISO_8859_1).replaceAll("\\s+", " ").trim();
    String kind = head.toLowerCase(Locale.ROOT).matches("^(<!doctype html|<html|<\\?xml|<head|<body).*") ? "HTML/XML" : "text";
    return " (it looks like " + kind + ": \"" + head + "\")";
  }
}
