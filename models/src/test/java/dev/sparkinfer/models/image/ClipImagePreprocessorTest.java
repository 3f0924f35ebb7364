package dev.sparkinfer.models.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.models.Fixtures;
import dev.sparkinfer.models.weights.SafeTensors;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * CLIP preprocessing against the golden fixtures: {@code clip-tiny-hf} was computed with HF's CLIPImageProcessor,
 * {@code clip-tiny-openclip} with OpenAI's {@code clip._transform}, each at 64 px ({@code pixel_values}) and 224 px
 * ({@code pixel_values_224}), on the six images of {@code images/} (JPEG, gray/RGBA/small PNG, palette GIF, diagram).
 */
class ClipImagePreprocessorTest {
  /** The fixtures README's tolerance: one uint8 step after normalisation is 1 / 255 / 0.2613 ≈ 0.015. */
  private static final double TOLERANCE = 0.02;

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"clip-tiny-hf, pixel_values", "clip-tiny-hf, pixel_values_224",
      "clip-tiny-openclip, pixel_values", "clip-tiny-openclip, pixel_values_224"})
  void matchesTheReferencePreprocessing(String folder, String tensor) throws IOException {
    Path dir = Fixtures.require(folder);
    JsonNode expectedJson = new ObjectMapper().readTree(dir.resolve("expected.json").toFile());
    Path images = dir.resolve(expectedJson.path("image_dir").asText("../images"));
    ClipImagePreprocessor pre = ClipImagePreprocessor.fromModelDir(dir);
    assertEquals(folder.endsWith("hf") ? ClipImagePreprocessor.Layout.HF : ClipImagePreprocessor.Layout.OPENAI, pre.layout());

    try (SafeTensors st = SafeTensors.open(dir.resolve("expected.safetensors"))) {
      long[] shape = st.shape(tensor);
      int size = (int) shape[3];
      pre = pre.withImageSize(size);
      float[] expected = st.floats(tensor);
      int per = 3 * size * size;
      assertEquals(per, pre.outputLength());
      List<String> failures = new ArrayList<>();
      for (int i = 0; i < expectedJson.path("images").size(); i++) {
        String name = expectedJson.path("images").get(i).asText();
        float[] got = pre.preprocess(Files.readAllBytes(images.resolve(name)));
        double max = 0;
        int at = -1, over = 0;
        for (int j = 0; j < per; j++) {
          double d = Math.abs(got[j] - expected[i * per + j]);
          if (d > max) { max = d; at = j; }
          if (d > 1e-5) over++;
        }
        System.out.printf("%s %s %-16s max |diff| %.3g (%d of %d values differ by more than 1e-5)%n",
            folder, tensor, name, max, over, per);
        if (max > TOLERANCE) failures.add(name + ": max |diff| " + max + " at " + at);
      }
      assertTrue(failures.isEmpty(), folder + " " + tensor + ": " + failures);
    }
  }

  @Test
  void modelFolderChoosesItsLayoutAndSize() {
    ClipImagePreprocessor hf = ClipImagePreprocessor.fromModelDir(Fixtures.require("clip-tiny-hf"));
    ClipImagePreprocessor oc = ClipImagePreprocessor.fromModelDir(Fixtures.require("clip-tiny-openclip"));
    assertEquals(ClipImagePreprocessor.Layout.HF, hf.layout());
    assertEquals(ClipImagePreprocessor.Layout.OPENAI, oc.layout());
    assertEquals(64, hf.imageSize());
    assertEquals(64, oc.imageSize());
  }

  // ---------------------------------------------------------------- Pillow's resize on tiny images

  @Test
  void bicubicUpscaleOfTwoPixelsMatchesPillowsFixedPoint() {
    // 2x1 gray [0, 255] -> 4x1, worked by hand from Resample.c: scale 0.5, support 2, output centres 0.25 .. 1.75.
    // Output 1: taps at distances 0.25 and 0.75, k = 0.8671875 and 0.2265625, normalised 0.79286 / 0.20714;
    // 22-bit weight of the 255 pixel (int) (0.5 + 0.20714 * 2^22) = 868823, (2^21 + 255 * 868823) >> 22 = 53.
    // Output 0: weight of the 255 pixel is negative (bicubic overshoot), clipped to 0; outputs 2, 3 mirror 1, 0.
    DecodedImage in = DecodedImage.of(DecodedImage.Mode.L, 2, 1, new byte[] {0, (byte) 255});
    assertArrayEquals(new int[] {0, 53, 202, 255}, unsigned(PillowResize.bicubic(in, 4, 1).samples()));
  }

  @Test
  void resizeToTheSameSizeIsIdentityAndConstantImagesStayConstant() {
    byte[] px = new byte[7 * 5 * 3];
    java.util.Arrays.fill(px, (byte) 200);
    DecodedImage in = DecodedImage.of(DecodedImage.Mode.RGB, 7, 5, px);
    assertEquals(in, PillowResize.bicubic(in, 7, 5));
    for (int[] size : new int[][] {{1, 1}, {3, 2}, {13, 11}, {64, 3}}) {
      DecodedImage out = PillowResize.bicubic(in, size[0], size[1]);
      for (int v : unsigned(out.samples())) assertEquals(200, v, "constant image resized to " + size[0] + "x" + size[1]);
    }
  }

  @Test
  void paletteImagesAreResizedWithNearestNeighbour() {
    // 4x1 palette indices 0 1 2 3 -> 2x1: Pillow samples at source x = 1 and 3 (centres 1.0 and 3.0 truncated).
    DecodedImage p = DecodedImage.ofPalette(4, 1, new byte[] {0, 1, 2, 3}, new int[] {0xff0000, 0x00ff00, 0x0000ff, 0xffffff});
    DecodedImage out = PillowResize.bicubic(p, 2, 1);
    assertEquals(DecodedImage.Mode.P, out.mode());
    assertArrayEquals(new byte[] {1, 3}, out.samples());
    // 3x1 -> 5x1: centres 0.3, 0.9, 1.5, 2.1, 2.7 -> 0 0 1 2 2
    DecodedImage q = PillowResize.bicubic(DecodedImage.ofPalette(3, 1, new byte[] {0, 1, 2}, new int[] {0, 0, 0}), 5, 1);
    assertArrayEquals(new byte[] {0, 0, 1, 2, 2}, q.samples());
  }

  @Test
  void rgbaIsResizedPremultipliedSoTransparentColourDoesNotBleed() {
    // A red opaque pixel beside a fully transparent green one: premultiplied, the green contributes nothing.
    DecodedImage in = DecodedImage.of(DecodedImage.Mode.RGBA, 2, 1,
        new byte[] {(byte) 255, 0, 0, (byte) 255, 0, (byte) 255, 0, 0});
    DecodedImage out = PillowResize.bicubic(in, 4, 1);
    int[] v = unsigned(out.samples());
    for (int x = 0; x < 4; x++) {
      assertEquals(0, v[4 * x + 1], "green must not bleed from a transparent pixel, x=" + x);
      if (v[4 * x + 3] > 0) assertEquals(255, v[4 * x], "red stays full after un-premultiplying, x=" + x);
    }
  }

  // ---------------------------------------------------------------- bad input

  @Test
  void rejectsBytesThatAreNotAnImage() {
    ClipImagePreprocessor pre = ClipImagePreprocessor.of(ClipImagePreprocessor.Layout.OPENAI, 64);
    ImageRejectedException e = assertThrows(ImageRejectedException.class,
        () -> pre.preprocess("<html>404</html>".getBytes()));
    assertEquals(ImageRejectedException.NOT_AN_IMAGE, e.reason());
    assertTrue(e.getMessage().contains("not a JPEG, PNG, GIF, BMP or WebP"), e.getMessage());
    assertEquals(ImageRejectedException.EMPTY,
        assertThrows(ImageRejectedException.class, () -> pre.preprocess(new byte[0])).reason());
  }

  @Test
  void rejectsATruncatedPng() throws IOException {
    byte[] png = encode(new BufferedImage(50, 40, BufferedImage.TYPE_INT_RGB), "png");
    byte[] cut = java.util.Arrays.copyOf(png, 40);
    ImageRejectedException e = assertThrows(ImageRejectedException.class,
        () -> ClipImagePreprocessor.of(ClipImagePreprocessor.Layout.HF, 64).preprocess(cut));
    assertEquals(ImageRejectedException.TRUNCATED, e.reason(), e.getMessage());
  }

  @Test
  void refusesImagesOverThePixelLimitBeforeDecoding() throws IOException {
    byte[] png = encode(new BufferedImage(300, 200, BufferedImage.TYPE_INT_RGB), "png");
    ClipImagePreprocessor pre = ClipImagePreprocessor.of(ClipImagePreprocessor.Layout.HF, 64).withMaxPixels(50_000);
    ImageRejectedException e = assertThrows(ImageRejectedException.class, () -> pre.preprocess(png));
    assertEquals(ImageRejectedException.TOO_LARGE, e.reason());
    assertTrue(e.getMessage().contains("300x200 = 60000 pixels, over the limit of 50000"), e.getMessage());
    assertEquals(3 * 64 * 64, ClipImagePreprocessor.of(ClipImagePreprocessor.Layout.HF, 64).preprocess(png).length);
  }

  @Test
  void decodesPngModesAsPillowDoes() throws IOException {
    assertEquals(DecodedImage.Mode.L, new ImageDecoder().decode(encode(new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY), "png")).mode());
    assertEquals(DecodedImage.Mode.I16, new ImageDecoder().decode(encode(new BufferedImage(3, 2, BufferedImage.TYPE_USHORT_GRAY), "png")).mode());
    assertEquals(DecodedImage.Mode.RGBA, new ImageDecoder().decode(encode(new BufferedImage(3, 2, BufferedImage.TYPE_INT_ARGB), "png")).mode());
    assertEquals(DecodedImage.Mode.RGB, new ImageDecoder().decode(encode(new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB), "png")).mode());
    assertEquals(DecodedImage.Mode.P, new ImageDecoder().decode(encode(new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_INDEXED), "png")).mode());
  }

  @Test
  void sixteenBitGrayIsResizedIn16BitsAndSaturatesWhenMadeRgb() throws IOException {
    // Pillow opens 16-bit gray PNGs as I;16 and its I;16 -> RGB conversion clips at 255, so 1000 becomes white.
    BufferedImage g = new BufferedImage(30, 20, BufferedImage.TYPE_USHORT_GRAY);
    for (int y = 0; y < 20; y++) for (int x = 0; x < 30; x++) g.getRaster().setSample(x, y, 0, x < 15 ? 100 : 1000);
    DecodedImage d = new ImageDecoder().decode(encode(g, "png"));
    assertEquals(DecodedImage.Mode.I16, d.mode());
    DecodedImage r = PillowResize.bicubic(d, 60, 40);
    assertEquals(100, r.samples16()[0]);
    assertEquals(1000, r.samples16()[59]);
    byte[] rgb = r.toRgb();
    assertEquals(100, rgb[0] & 0xff);
    assertEquals(255, rgb[3 * 59] & 0xff);
  }

  @Test
  void tallImagesTakeTheVerticalPassFirstAndGifsDecodeAsPalette() throws IOException {
    byte[] px = new byte[2 * 300];
    for (int i = 0; i < px.length; i++) px[i] = (byte) (i / 2);
    DecodedImage tall = DecodedImage.of(DecodedImage.Mode.L, 2, 300, px);
    DecodedImage out = PillowResize.bicubic(tall, 1, 30);
    assertEquals(1, out.width());
    assertEquals(30, out.height());
    BufferedImage indexed = new BufferedImage(5, 4, BufferedImage.TYPE_BYTE_INDEXED);
    indexed.getRaster().setSample(2, 1, 0, 7);
    DecodedImage gif = new ImageDecoder().decode(encode(indexed, "gif"));
    assertEquals(DecodedImage.Mode.P, gif.mode());
    assertEquals(5, gif.width());
    assertEquals(4, gif.height());
    assertEquals(3 * 64 * 64, ClipImagePreprocessor.of(ClipImagePreprocessor.Layout.OPENAI, 64).preprocess(gif).length);
  }

  private static byte[] encode(BufferedImage image, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertTrue(ImageIO.write(image, format, out), "no " + format + " writer");
    return out.toByteArray();
  }

  private static int[] unsigned(byte[] b) {
    int[] v = new int[b.length];
    for (int i = 0; i < b.length; i++) v[i] = b[i] & 0xff;
    return v;
  }
}
