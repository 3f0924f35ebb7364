package dev.sparkinfer.models.image;

/**
 * An input image that cannot be preprocessed: bytes that are not a decodable JPEG/PNG/GIF/BMP, an image with no pixels,
 * or one larger than the configured pixel limit. The message names the problem and what to do; batch tasks turn it into
 * a per-row reject rather than failing the partition.
 */
public final class ImageRejectedException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ImageRejectedException(String message) {
    super(message);
  }

  public ImageRejectedException(String message, Throwable cause) {
    super(message, cause);
  }
}
