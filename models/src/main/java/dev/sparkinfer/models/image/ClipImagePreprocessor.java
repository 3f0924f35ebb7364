package dev.sparkinfer.models.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CLIP image preprocessing, encoded bytes → normalised CHW floats [3][size][size], in either of the two layouts that
 * the ecosystem uses for the same weights. They differ in when the image becomes RGB and in how the crop is centred:
 *
 * <ul>
 *   <li>{@link Layout#OPENAI} — OpenAI {@code clip._transform} / OpenCLIP {@code image_transform} (torchvision on PIL):
 *       bicubic resize of the shortest side on the image <em>as decoded</em> (so Pillow resizes palette images with
 *       nearest neighbour, RGBA with premultiplied alpha and CMYK per ink channel), {@code CenterCrop} with offsets
 *       {@code round((h - size) / 2)} (Python rounds halves to even), then convert to RGB, /255, normalise.
 *   <li>{@link Layout#HF} — Hugging Face {@code CLIPImageProcessor}: convert to RGB first (CMYK by Pillow's
 *       formula, see {@link DecodedImage#toRgb()}), bicubic resize of the
 *       shortest edge with Pillow, {@code center_crop} with floor offsets {@code (h - size) // 2}, rescale, normalise.
 * </ul>
 *
 * <p>Both compute the new long side as {@code int(size * long / short)} and resize with {@link PillowResize}, which
 * reproduces Pillow's fixed-point arithmetic, so results equal the references wherever {@link ImageDecoder} decodes
 * exactly what Pillow does (every JPEG and lossless format tested; lossy WebP differs, see ImageFormatsTest).
 * Instances are immutable and thread-safe.
 */
public final class ClipImagePreprocessor {
  /** Which reference the preprocessing reproduces; see the class comment. */
  public enum Layout { OPENAI, HF }

  /** OpenAI CLIP's normalisation, also OpenCLIP's and HF's defaults. */
  public static final float[] OPENAI_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
  public static final float[] OPENAI_STD = {0.26862954f, 0.26130258f, 0.27577711f};

  private static final double DEFAULT_RESCALE = 1.0 / 255.0;

  private final Layout layout;
  private final int resizeShortest; // shortest side after resize
  private final int cropSize;       // output is cropSize x cropSize
  private final float[] mean;       // per channel, R G B
  private final float[] std;
  private final double rescale;     // HF's rescale_factor; OPENAI divides by 255
  private final boolean normalize;
  private final ImageDecoder decoder;

  public ClipImagePreprocessor(Layout layout, int resizeShortest, int cropSize, float[] mean, float[] std, double rescale,
                               boolean normalize, ImageDecoder decoder) {
    if (resizeShortest < 1 || cropSize < 1) {
      throw new IllegalArgumentException("resize size " + resizeShortest + " and crop size " + cropSize + " must be positive");
    }
    if (mean.length != 3 || std.length != 3) {
      throw new IllegalArgumentException("image mean and std need 3 values (R, G, B), got " + mean.length + " and " + std.length);
    }
    for (float s : std) {
      if (!(s > 0)) throw new IllegalArgumentException("image std values must be positive, got " + s);
    }
    this.layout = layout;
    this.resizeShortest = resizeShortest;
    this.cropSize = cropSize;
    this.mean = mean.clone();
    this.std = std.clone();
    this.rescale = rescale;
    this.normalize = normalize;
    this.decoder = decoder;
  }

  /** A layout at {@code size} px with CLIP's mean/std and the default pixel limit. */
  public static ClipImagePreprocessor of(Layout layout, int size) {
    return new ClipImagePreprocessor(layout, size, size, OPENAI_MEAN, OPENAI_STD, DEFAULT_RESCALE, true, new ImageDecoder());
  }

  /**
   * From a model folder: {@code open_clip_config.json} (OpenCLIP / OpenAI layout) when the folder holds OpenCLIP
   * weights ({@code open_clip_*}) or nothing else, otherwise {@code preprocessor_config.json} (HF layout).
   */
  public static ClipImagePreprocessor fromModelDir(Path dir) {
    Path openClip = dir.resolve("open_clip_config.json");
    Path hf = dir.resolve("preprocessor_config.json");
    boolean openClipWeights;
    try (var files = Files.list(dir)) {
      openClipWeights = files.anyMatch(p -> p.getFileName().toString().startsWith("open_clip_") && !p.equals(openClip));
    } catch (IOException e) {
      throw new IllegalArgumentException(dir + ": cannot list the model folder (" + e.getMessage() + ")", e);
    }
    if (Files.exists(openClip) && (openClipWeights || !Files.exists(hf))) return fromOpenClipConfig(openClip);
    if (Files.exists(hf)) return fromHfConfig(hf);
    throw new IllegalArgumentException(dir + ": no preprocessor_config.json (Hugging Face) or open_clip_config.json"
        + " (OpenCLIP); a CLIP model folder needs one to say how images are preprocessed");
  }

  /** HF {@code preprocessor_config.json} of a {@code CLIPImageProcessor}. */
  public static ClipImagePreprocessor fromHfConfig(Path file) {
    JsonNode c = readJson(file);
    if (c.has("resample") && c.path("resample").asInt() != 3) {
      throw new IllegalArgumentException(file + ": resample " + c.path("resample").asInt()
          + " is not supported; only 3 (PIL bicubic, what CLIP uses) is implemented");
    }
    if (!c.path("do_resize").asBoolean(true) || !c.path("do_center_crop").asBoolean(true)) {
      throw new IllegalArgumentException(file + ": do_resize and do_center_crop must be true (the vision tower needs a"
          + " square image of the crop size)");
    }
    JsonNode size = c.path("size");
    int shortest = size.isInt() ? size.asInt() : size.path("shortest_edge").asInt(-1);
    if (shortest < 1) {
      throw new IllegalArgumentException(file + ": size " + size + " is not supported; expected {\"shortest_edge\": n}");
    }
    JsonNode crop = c.path("crop_size");
    int cropH = crop.isInt() ? crop.asInt() : crop.path("height").asInt(shortest);
    int cropW = crop.isInt() ? crop.asInt() : crop.path("width").asInt(cropH);
    if (cropH != cropW) {
      throw new IllegalArgumentException(file + ": crop_size " + crop + " is not square; CLIP vision towers take square images");
    }
    return new ClipImagePreprocessor(Layout.HF, shortest, cropH, floats(c.path("image_mean"), OPENAI_MEAN, file),
        floats(c.path("image_std"), OPENAI_STD, file), c.path("do_rescale").asBoolean(true)
            ? c.path("rescale_factor").asDouble(DEFAULT_RESCALE) : 1.0,
        c.path("do_normalize").asBoolean(true), new ImageDecoder());
  }

  /** OpenCLIP {@code open_clip_config.json}: vision_cfg.image_size and preprocess_cfg (mean, std, interpolation). */
  public static ClipImagePreprocessor fromOpenClipConfig(Path file) {
    JsonNode c = readJson(file);
    JsonNode imageSize = c.path("model_cfg").path("vision_cfg").path("image_size");
    int size = imageSize.isArray() ? imageSize.path(0).asInt() : imageSize.asInt(-1);
    if (size < 1 || (imageSize.isArray() && imageSize.path(1).asInt() != size)) {
      throw new IllegalArgumentException(file + ": model_cfg.vision_cfg.image_size " + imageSize
          + " is missing or not square; expected a positive integer");
    }
    JsonNode p = c.path("preprocess_cfg");
    String interpolation = p.path("interpolation").asText("bicubic");
    String resizeMode = p.path("resize_mode").asText("shortest");
    if (!interpolation.equals("bicubic") || !resizeMode.equals("shortest")) {
      throw new IllegalArgumentException(file + ": preprocess_cfg interpolation '" + interpolation + "' / resize_mode '"
          + resizeMode + "' is not supported; only bicubic + shortest (OpenAI's transform) is implemented");
    }
    return new ClipImagePreprocessor(Layout.OPENAI, size, size, floats(p.path("mean"), OPENAI_MEAN, file),
        floats(p.path("std"), OPENAI_STD, file), DEFAULT_RESCALE, true, new ImageDecoder());
  }

  /** The same preprocessing at another resolution (resize and crop to {@code size}). */
  public ClipImagePreprocessor withImageSize(int size) {
    return new ClipImagePreprocessor(layout, size, size, mean, std, rescale, normalize, decoder);
  }

  /** The same preprocessing refusing images over {@code maxPixels} pixels. */
  public ClipImagePreprocessor withMaxPixels(long maxPixels) {
    return new ClipImagePreprocessor(layout, resizeShortest, cropSize, mean, std, rescale, normalize, new ImageDecoder(maxPixels));
  }

  public Layout layout() { return layout; }

  /** Side of the square output image. */
  public int imageSize() { return cropSize; }

  /** Floats per image: 3 × size × size. */
  public int outputLength() { return 3 * cropSize * cropSize; }

  /** Decodes and preprocesses one image; {@link ImageRejectedException} if the bytes are not a usable image. */
  public float[] preprocess(byte[] encodedImage) {
    return preprocess(decoder.decode(encodedImage));
  }

  /** Preprocesses one image into {@code out[offset, offset + outputLength())}, e.g. one row of a batch. */
  public void preprocess(byte[] encodedImage, float[] out, int offset) {
    float[] one = preprocess(encodedImage);
    System.arraycopy(one, 0, out, offset, one.length);
  }

  /** Preprocesses an already decoded image: [3][size][size], channels R, G, B. */
  public float[] preprocess(DecodedImage image) {
    byte[] rgb;
    if (layout == Layout.HF) {
      DecodedImage resized = resizeShortest(image.convertToRgb());
      rgb = resized.crop(floorOffset(resized.width()), floorOffset(resized.height()), cropSize, cropSize).toRgb();
    } else {
      DecodedImage resized = resizeShortest(image);
      rgb = resized.crop(roundOffset(resized.width()), roundOffset(resized.height()), cropSize, cropSize).toRgb();
    }
    return toChw(rgb);
  }

  /**
   * torchvision's {@code _compute_resized_output_size} and HF's {@code get_resize_output_image_size}: the short side
   * becomes {@code resizeShortest}, the long side {@code int(size * long / short)} (truncated, as Python's int()).
   */
  private DecodedImage resizeShortest(DecodedImage image) {
    int w = image.width(), h = image.height();
    int shortSide = Math.min(w, h), longSide = Math.max(w, h);
    int newLong = (int) ((double) ((long) resizeShortest * longSide) / shortSide);
    int newW = w <= h ? resizeShortest : newLong;
    int newH = w <= h ? newLong : resizeShortest;
    return PillowResize.bicubic(image, newW, newH);
  }

  /**
   * torchvision CenterCrop: {@code int(round((n - crop) / 2.0))}; Python rounds halves to even. After the resize the
   * image is never smaller than the crop, so torchvision's padding branch cannot trigger (crop() would pad with 0).
   */
  private int roundOffset(int n) {
    return (int) Math.rint((n - cropSize) / 2.0);
  }

  /** HF center_crop: {@code (n - crop) // 2} (HF's padding branch cannot trigger after the resize either). */
  private int floorOffset(int n) {
    return Math.floorDiv(n - cropSize, 2);
  }

  /**
   * HWC uint8 → CHW floats. OPENAI: torchvision ToTensor (float32 / 255) then Normalize in float32. HF: rescale in
   * float64 then float32, normalise in float32. The two differ by at most a float32 ulp; both are kept for fidelity.
   */
  private float[] toChw(byte[] rgb) {
    int plane = cropSize * cropSize;
    float[] out = new float[3 * plane];
    for (int i = 0; i < plane; i++) {
      for (int c = 0; c < 3; c++) {
        int v = rgb[3 * i + c] & 0xff;
        float x = layout == Layout.OPENAI ? v / 255f : (float) (v * rescale);
        out[c * plane + i] = normalize ? (x - mean[c]) / std[c] : x;
      }
    }
    return out;
  }

  private static JsonNode readJson(Path file) {
    try {
      return new ObjectMapper().readTree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read the preprocessing config (" + e.getMessage() + ")", e);
    }
  }

  private static float[] floats(JsonNode array, float[] fallback, Path file) {
    if (array.isMissingNode() || array.isNull()) return fallback.clone();
    if (!array.isArray() || array.size() != 3) {
      throw new IllegalArgumentException(file + ": expected 3 numbers (R, G, B), got " + array);
    }
    return new float[] {(float) array.get(0).asDouble(), (float) array.get(1).asDouble(), (float) array.get(2).asDouble()};
  }

  @Override
  public String toString() {
    return "ClipImagePreprocessor[" + layout + ", resize shortest " + resizeShortest + ", crop " + cropSize + ", max "
        + decoder.maxPixels() + " px]";
  }
}
