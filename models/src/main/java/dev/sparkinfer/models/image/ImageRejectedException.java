package dev.sparkinfer.models.image;

/**
 * An input image that cannot be preprocessed: empty bytes, bytes that are not an image (an HTML error page), a format
 * or variant that is not decoded, an image over the pixel limit, a truncated or damaged file. Batch tasks turn it into a
 * per-row reject rather than failing the partition.
 *
 * <p>{@link #reason()} is one of the short, stable categories below, for grouping rejects; {@link #detail()} says what
 * was wrong with which input and what to do. The message is {@code reason + ": " + detail}.
 */
public final class ImageRejectedException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** Zero bytes (or null). */
  public static final String EMPTY = "image bytes are empty";
  /** No image signature at all: text, HTML, zeros, another kind of file. */
  public static final String NOT_AN_IMAGE = "not an image";
  /** An image, but a format or variant that is not decoded (TIFF, HEIC, 12-bit JPEG, ...). */
  public static final String UNSUPPORTED = "unsupported image variant";
  /** More pixels (width × height, from the header) than the configured limit; nothing was decoded. */
  public static final String TOO_LARGE = "over the pixel limit";
  /** The file ends before its image data does. */
  public static final String TRUNCATED = "truncated image";
  /** Damaged or inconsistent data that the decoder refuses. */
  public static final String CORRUPT = "cannot be decoded";

  private final String reason;
  private final String detail;

  public ImageRejectedException(String reason, String detail) {
    this(reason, detail, null);
  }

  public ImageRejectedException(String reason, String detail, Throwable cause) {
    super(reason + ": " + detail, cause);
    this.reason = reason;
    this.detail = detail;
  }

  /** The short category: one of {@link #EMPTY}, {@link #NOT_AN_IMAGE}, {@link #UNSUPPORTED}, {@link #TOO_LARGE},
   *  {@link #TRUNCATED}, {@link #CORRUPT}. */
  public String reason() { return reason; }

  /** What was wrong with which input and what to do. */
  public String detail() { return detail; }
}
