package dev.sparkinfer.models.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeout;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.Fixtures;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.spi.IIORegistry;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ImageDecoder against Pillow on the images of {@code src/test/resources/images/}, made and decoded by
 * {@code src/test/python/make_image_cases.py} (Pillow 9.4 with libjpeg-turbo 2.1.5 and libwebp 1.2.4, Debian 12;
 * {@code cases.json} records the versions). Every decodable case must give Pillow's mode and size; lossless ones its
 * samples and RGB conversion exactly (by SHA-256); lossy ones within the bounds below, which are what was measured.
 *
 * <p>Measured differences, and why:
 * <ul>
 *   <li>JPEG (baseline, 4:4:4, progressive, gray, unmarked, with an ICC profile, CMYK, progressive CMYK, YCCK):
 *       <b>0</b>. The libjpeg inside the JDK decodes and upsamples the components exactly as libjpeg-turbo does for
 *       these files (islow IDCT, the same fancy upsampling), and ImageDecoder converts them with libjpeg's tables.
 *   <li>Lossy WebP: up to <b>66</b> levels on one sample of these 40 × 28 images (mean 5.9 for RGB, 4.7 over RGBA
 *       with alpha exact), because TwelveMonkeys' VP8 decoder replicates each chroma sample over 2 × 2 pixels where
 *       libwebp interpolates ("fancy upsampling"), and rounds YUV → RGB differently (±2 on a gray image). The test
 *       pattern has hard colour edges and ripples at the chroma resolution, the worst case; photos differ less.
 *       After the CLIP resize to 16 px it is up to 24 levels (uint8, before /255 and normalise; 0.36 after
 *       normalising); 43 for the OpenAI layout on RGBA, where Pillow's premultiplied resize divides by small alphas.
 *   <li>Lossless WebP, PNG, GIF, BMP: 0.
 * </ul>
 * Pillow 9.4 opens 16-bit gray PNGs as "I" (32-bit), later versions as "I;16", which ImageDecoder mirrors;
 * the samples, the RGB conversion and the CLIP preprocessing are the same either way, so "I" is accepted for I16.
 */
class ImageFormatsTest {
  /** Lossy cases: max |decoded sample - Pillow's|, as measured (see the class comment); everything else must be 0. */
  private static final Map<String, Integer> LOSSY_BOUND = Map.of("webp_lossy.webp", 66, "webp_lossy_alpha.webp", 60);
  /** Max |diff| of the 16 px CLIP preprocessing (uint8, before /255) of the lossy WebP cases, as measured. */
  private static final Map<String, Integer> CLIP_BOUND = Map.of("webp_lossy.webp OPENAI", 24, "webp_lossy.webp HF", 24,
      "webp_lossy_alpha.webp OPENAI", 43, "webp_lossy_alpha.webp HF", 19);

  private static final JsonNode DOC = readCases();

  private static JsonNode readCases() {
    try (InputStream in = ImageFormatsTest.class.getResourceAsStream("/images/cases.json")) {
      return new ObjectMapper().readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static Stream<String> decodable() {
    List<String> names = new ArrayList<>();
    DOC.get("cases").forEach(c -> { if (!c.has("pillow_error")) names.add(c.get("file").asText()); });
    return names.stream();
  }

  static Stream<String> refused() {
    List<String> names = new ArrayList<>();
    DOC.get("cases").forEach(c -> { if (c.has("pillow_error")) names.add(c.get("file").asText()); });
    return names.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("decodable")
  void decodesAsPillowDoes(String file) throws IOException {
    JsonNode c = caseOf(file);
    DecodedImage got = new ImageDecoder().decode(resource(file));
    assertEquals(mode(c.get("mode").asText()), got.mode(), file + " mode (Pillow: " + c.get("mode").asText() + ")");
    assertEquals(c.get("size").get(0).asInt(), got.width(), file + " width");
    assertEquals(c.get("size").get(1).asInt(), got.height(), file + " height");

    if (c.has("samples_b64")) {
      byte[] ref = Base64.getDecoder().decode(c.get("samples_b64").asText());
      byte[] ours = samples(got);
      assertEquals(ref.length, ours.length, file + " sample count");
      int max = 0;
      long sum = 0;
      for (int i = 0; i < ref.length; i++) {
        int d = Math.abs((ref[i] & 0xff) - (ours[i] & 0xff));
        max = Math.max(max, d);
        sum += d;
      }
      System.out.printf("%-26s %-5s max |ours - Pillow| %d, mean %.3f over %d samples%n", file, got.mode(), max,
          (double) sum / ref.length, ref.length);
      int bound = LOSSY_BOUND.getOrDefault(file, 0);
      assertTrue(max <= bound, file + ": max |diff| " + max + " over the bound " + bound);
      if (bound == 0) assertEquals(c.get("rgb_sha256").asText(), sha256(got.toRgb()), file + " RGB conversion");
      // Pillow's own samples through our RGB conversion (CMYK -> RGB above all): exact whatever the decoder.
      assertEquals(c.get("rgb_sha256").asText(), sha256(pillowImage(c).toRgb()), file + " RGB of Pillow's samples");
    } else {
      assertEquals(c.get("samples_sha256").asText(), sha256(samples(got)), file + " samples");
      assertEquals(c.get("rgb_sha256").asText(), sha256(got.toRgb()), file + " RGB conversion");
    }
    if (c.has("palette")) {
      int[] palette = got.palette();
      JsonNode p = c.get("palette");
      for (int i = 0; i < palette.length && 3 * i + 2 < p.size(); i++) {
        int expected = p.get(3 * i).asInt() << 16 | p.get(3 * i + 1).asInt() << 8 | p.get(3 * i + 2).asInt();
        assertEquals(expected, palette[i], file + " palette entry " + i);
      }
    }
  }

  /**
   * Both CLIP layouts at 16 px, stopped before /255 and normalise, against Pillow's: on Pillow's own decoded samples
   * they must be identical (this tests the preprocessing: HF converts to RGB first, OpenAI resizes CMYK, palette, LA
   * and I;16 images as they are); on ours, identical except for lossy WebP.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("decodable")
  void clipPreprocessingMatchesPillow(String file) throws IOException {
    JsonNode c = caseOf(file);
    if (!c.has("clip")) return;
    int size = DOC.get("clip_size").asInt();
    DecodedImage ours = new ImageDecoder().decode(resource(file));
    DecodedImage pillows = c.has("samples_b64") ? pillowImage(c) : ours;
    List<String> over = new ArrayList<>();
    for (ClipImagePreprocessor.Layout layout : ClipImagePreprocessor.Layout.values()) {
      ClipImagePreprocessor pre = new ClipImagePreprocessor(layout, size, size, new float[3], new float[] {1, 1, 1}, 1.0,
          false, new ImageDecoder());
      byte[] expected = Base64.getDecoder().decode(c.get("clip").get(layout == ClipImagePreprocessor.Layout.HF ? "hf" : "openai").asText());
      assertArrayEquals(expected, hwc(pre.preprocess(pillows), layout, size), file + " " + layout + " on Pillow's samples");
      byte[] got = hwc(pre.preprocess(ours), layout, size);
      int max = 0;
      for (int i = 0; i < expected.length; i++) max = Math.max(max, Math.abs((expected[i] & 0xff) - (got[i] & 0xff)));
      System.out.printf("%-26s %-6s CLIP %d px: max |ours - Pillow| %d%n", file, layout, size, max);
      int bound = LOSSY_BOUND.containsKey(file) ? CLIP_BOUND.get(file + " " + layout) : 0;
      if (max > bound) over.add(layout + ": max |diff| " + max + " over the bound " + bound);
    }
    assertTrue(over.isEmpty(), file + ": " + over);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refused")
  void refusesWhatPillowRefuses(String file) throws IOException {
    byte[] bytes = resource(file);
    String expected = file.startsWith("bomb") ? ImageRejectedException.TOO_LARGE
        : file.startsWith("truncated") || file.startsWith("no_eoi") ? ImageRejectedException.TRUNCATED
        : ImageRejectedException.NOT_AN_IMAGE;
    ImageRejectedException e = assertThrows(ImageRejectedException.class, () -> new ImageDecoder().decode(bytes));
    System.out.printf("%-30s Pillow: %.60s%n%30s ours:   %s%n", file, caseOf(file).get("pillow_error").asText(), "", e.getMessage());
    assertEquals(expected, e.reason(), e.getMessage());
    assertTrue(e.getMessage().startsWith(expected + ": "), e.getMessage());
  }

  /**
   * A 30000 × 30000 header (900 megapixels; 2.7 GB as RGB) in a file of under a kilobyte is refused from the header, in
   * every format: the refusal says so and comes at once, where decoding would take seconds and gigabytes.
   */
  @Test
  void decompressionBombsAreRefusedFromTheHeader() throws IOException {
    for (String file : List.of("bomb.png", "bomb.jpg", "bomb_progressive.jpg", "bomb.webp", "bomb.gif", "bomb.bmp")) {
      byte[] bytes = resource(file);
      assertTrue(bytes.length < 1024, file + " is " + bytes.length + " bytes");
      ImageRejectedException e = assertTimeout(Duration.ofSeconds(2),
          () -> assertThrows(ImageRejectedException.class, () -> new ImageDecoder().decode(bytes)), file);
      assertEquals(ImageRejectedException.TOO_LARGE, e.reason(), e.getMessage());
      assertTrue(e.getMessage().contains("30000x30000 = 900000000 pixels, over the limit of 89478485"), e.getMessage());
    }
    assertEquals(89_478_485L, ImageDecoder.DEFAULT_MAX_PIXELS);
  }

  @Test
  void rejectReasonsAreShortCategories() {
    ImageDecoder d = new ImageDecoder();
    assertEquals(ImageRejectedException.EMPTY, assertThrows(ImageRejectedException.class, () -> d.decode(new byte[0])).reason());
    assertEquals(ImageRejectedException.EMPTY, assertThrows(ImageRejectedException.class, () -> d.decode(null)).reason());
    ImageRejectedException html = assertThrows(ImageRejectedException.class,
        () -> d.decode("<!DOCTYPE html><html><body>Access denied</body></html>".getBytes()));
    assertEquals(ImageRejectedException.NOT_AN_IMAGE, html.reason());
    assertTrue(html.detail().contains("looks like HTML/XML"), html.detail());
    assertEquals(ImageRejectedException.NOT_AN_IMAGE,
        assertThrows(ImageRejectedException.class, () -> d.decode(new byte[3000])).reason());
    ImageRejectedException tiff = assertThrows(ImageRejectedException.class, () -> d.decode(new byte[] {'I', 'I', 42, 0, 8, 0, 0, 0}));
    assertEquals(ImageRejectedException.UNSUPPORTED, tiff.reason());
    assertTrue(tiff.detail().contains("TIFF"), tiff.detail());
    // a JPEG whose header is damaged after the signature: no frame header before the data ends
    ImageRejectedException jpeg = assertThrows(ImageRejectedException.class,
        () -> d.decode(new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe0, 0, 16, 'J', 'F'}));
    assertEquals(ImageRejectedException.TRUNCATED, jpeg.reason(), jpeg.getMessage());
  }

  @Test
  void twelveBitJpegIsAnUnsupportedVariant() throws IOException {
    byte[] jpeg = resource("jpeg_gray.jpg").clone();
    int sof = indexOf(jpeg, (byte) 0xff, (byte) 0xc0);
    jpeg[sof + 4] = 12; // sample precision
    ImageRejectedException e = assertThrows(ImageRejectedException.class, () -> new ImageDecoder().decode(jpeg));
    assertEquals(ImageRejectedException.UNSUPPORTED, e.reason(), e.getMessage());
  }

  /**
   * Ordinary YCbCr JPEGs decode to what the JDK's own JPEG reader gave before TwelveMonkeys was added, bit for bit
   * (the JDK's read() converts with the same libjpeg tables that ImageDecoder applies to the raw components).
   */
  @Test
  void ordinaryJpegsDecodeAsTheJdksReaderDid() throws IOException {
    List<byte[]> jpegs = new ArrayList<>();
    for (String f : List.of("jpeg_baseline.jpg", "jpeg_444.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg")) jpegs.add(resource(f));
    if (Files.exists(Fixtures.dir().resolve("images/gradient.jpg"))) {
      jpegs.add(Files.readAllBytes(Fixtures.dir().resolve("images/gradient.jpg")));
    }
    for (byte[] jpeg : jpegs) {
      ImageReader jdk = jdkReader("com.sun.imageio.plugins.jpeg.JPEGImageReaderSpi");
      jdk.setInput(new MemoryCacheImageInputStream(new ByteArrayInputStream(jpeg)));
      Raster r = jdk.read(0).getRaster();
      int[] s = r.getPixels(0, 0, r.getWidth(), r.getHeight(), (int[]) null);
      byte[] expected = new byte[s.length];
      for (int i = 0; i < s.length; i++) expected[i] = (byte) s[i];
      assertArrayEquals(expected, new ImageDecoder().decode(jpeg).samples(), ImageDecoder.describe(jpeg));
    }
  }

  /**
   * On a Spark executor the job's jar is often not on the class path that ImageIO's ServiceLoader scan saw, so the
   * default registry has no TwelveMonkeys readers. Simulated here by removing them from the registry and decoding on a
   * thread whose context class loader sees none of the job's classes: WebP, CMYK JPEG and BMP still decode.
   */
  @Test
  void decodesWithoutThePluginsInImageIOsRegistry() throws Exception {
    IIORegistry registry = IIORegistry.getDefaultInstance();
    List<ImageReaderSpi> removed = new ArrayList<>();
    Iterator<ImageReaderSpi> it = registry.getServiceProviders(ImageReaderSpi.class, false);
    while (it.hasNext()) {
      ImageReaderSpi spi = it.next();
      if (spi.getClass().getName().startsWith("com.twelvemonkeys.")) removed.add(spi);
    }
    removed.forEach(spi -> registry.deregisterServiceProvider(spi, ImageReaderSpi.class));
    try {
      assertFalse(ImageIO.getImageReadersByFormatName("webp").hasNext(), "the registry still has a WebP reader");
      byte[] webp = resource("webp_lossless.webp"), cmyk = resource("jpeg_cmyk.jpg"), bmp = resource("bmp_gray.bmp");
      AtomicReference<Object> result = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          ImageDecoder d = new ImageDecoder();
          result.set(List.of(d.decode(webp), d.decode(cmyk), d.decode(bmp)));
        } catch (RuntimeException | Error e) {
          result.set(e);
        }
      });
      t.setContextClassLoader(new URLClassLoader(new URL[0], ClassLoader.getPlatformClassLoader()));
      t.start();
      t.join();
      assertTrue(result.get() instanceof List<?>, "decoding failed: " + result.get());
      List<?> images = (List<?>) result.get();
      assertEquals(DecodedImage.Mode.RGB, ((DecodedImage) images.get(0)).mode());
      assertEquals(DecodedImage.Mode.CMYK, ((DecodedImage) images.get(1)).mode());
      assertEquals(DecodedImage.Mode.L, ((DecodedImage) images.get(2)).mode());
    } finally {
      removed.forEach(spi -> registry.registerServiceProvider(spi, ImageReaderSpi.class));
    }
  }

  // ---------------------------------------------------------------- helpers

  private static JsonNode caseOf(String file) {
    for (JsonNode c : DOC.get("cases")) if (c.get("file").asText().equals(file)) return c;
    throw new IllegalArgumentException(file);
  }

  private static byte[] resource(String file) throws IOException {
    try (InputStream in = ImageFormatsTest.class.getResourceAsStream("/images/" + file)) {
      assertNotNull(in, "test resource images/" + file);
      return in.readAllBytes();
    }
  }

  private static DecodedImage.Mode mode(String pillowMode) {
    return switch (pillowMode) {
      case "1" -> DecodedImage.Mode.ONE;
      case "I", "I;16" -> DecodedImage.Mode.I16; // see the class comment
      default -> DecodedImage.Mode.valueOf(pillowMode);
    };
  }

  /** Samples as the generator writes them: bytes, or little-endian uint16 for I16. */
  private static byte[] samples(DecodedImage d) {
    if (d.mode() != DecodedImage.Mode.I16) return d.samples();
    char[] s = d.samples16();
    byte[] b = new byte[2 * s.length];
    for (int i = 0; i < s.length; i++) {
      b[2 * i] = (byte) s[i];
      b[2 * i + 1] = (byte) (s[i] >> 8);
    }
    return b;
  }

  /** The image Pillow decoded, from the samples the generator stored (lossy cases: 8-bit modes only). */
  private static DecodedImage pillowImage(JsonNode c) {
    byte[] s = Base64.getDecoder().decode(c.get("samples_b64").asText());
    return DecodedImage.of(mode(c.get("mode").asText()), c.get("size").get(0).asInt(), c.get("size").get(1).asInt(), s);
  }

  /** The preprocessor's CHW floats back to HWC uint8: HF with rescale 1 gives v, OPENAI gives v / 255f. */
  private static byte[] hwc(float[] chw, ClipImagePreprocessor.Layout layout, int size) {
    int plane = size * size;
    byte[] out = new byte[3 * plane];
    for (int i = 0; i < plane; i++) {
      for (int ch = 0; ch < 3; ch++) {
        float v = chw[ch * plane + i];
        out[3 * i + ch] = (byte) Math.round(layout == ClipImagePreprocessor.Layout.OPENAI ? v * 255f : v);
      }
    }
    return out;
  }

  private static ImageReader jdkReader(String spiClass) throws IOException {
    Iterator<ImageReaderSpi> it = IIORegistry.getDefaultInstance().getServiceProviders(ImageReaderSpi.class, false);
    while (it.hasNext()) {
      ImageReaderSpi spi = it.next();
      if (spi.getClass().getName().equals(spiClass)) return spi.createReaderInstance();
    }
    throw new IllegalStateException(spiClass);
  }

  private static int indexOf(byte[] b, byte first, byte second) {
    for (int i = 0; i + 1 < b.length; i++) if (b[i] == first && b[i + 1] == second) return i;
    throw new IllegalArgumentException("marker not found");
  }

  private static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
