package dev.sparkinfer.models.llava;

import dev.sparkinfer.models.decoder.ByteLevelBpe;
import dev.sparkinfer.models.decoder.DecoderTokenizers;
import dev.sparkinfer.models.decoder.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A LLaVA prompt such as {@code "USER: <image>\nDescribe this image. ASSISTANT:"} to ids, as HF's LlavaProcessor
 * makes them: the text around each {@code <image>} tokenized piece by piece with the language model's tokenizer (BOS
 * first when the tokenizer's template or tokenizer_config.json says so), each {@code <image>} expanded to one image
 * token per image feature.
 */
public final class LlavaPrompt {
  /** Where an image goes in a prompt's text. */
  public static final String IMAGE = "<image>";

  private final ByteLevelBpe tokenizer;
  private final int imageToken, perImage;

  public LlavaPrompt(ByteLevelBpe tokenizer, int imageToken, int perImage) {
    this.tokenizer = tokenizer;
    this.imageToken = imageToken;
    this.perImage = perImage;
  }

  /** The folder's tokenizer (tokenizer.json) with the config's image token and features per image. */
  public static LlavaPrompt load(Path dir, LlavaConfig c) {
    TextTokenizer t = DecoderTokenizers.load(dir);
    if (!(t instanceof ByteLevelBpe bpe)) throw new IllegalArgumentException(dir + ": LLaVA needs the language model's byte-level BPE tokenizer.json");
    return new LlavaPrompt(bpe, c.imageToken(), c.tokensPerImage());
  }

  /** Images the prompt's text asks for (occurrences of {@code <image>}). */
  public static int images(String prompt) {
    int n = 0;
    for (int i = prompt.indexOf(IMAGE); i >= 0; i = prompt.indexOf(IMAGE, i + IMAGE.length())) n++;
    return n;
  }

  /** The prompt's ids: BOS (if the tokenizer adds one), then text pieces and expanded images in order. */
  public int[] encode(String prompt) {
    List<int[]> parts = new ArrayList<>();
    parts.add(tokenizer.prefix());
    int from = 0;
    for (int i = prompt.indexOf(IMAGE); i >= 0; i = prompt.indexOf(IMAGE, from)) {
      parts.add(tokenizer.encodeOrdinary(prompt.substring(from, i)));
      int[] image = new int[perImage];
      java.util.Arrays.fill(image, imageToken);
      parts.add(image);
      from = i + IMAGE.length();
    }
    parts.add(tokenizer.encodeOrdinary(prompt.substring(from)));
    return parts.stream().flatMapToInt(java.util.Arrays::stream).toArray();
  }

  /** Generated ids back to text (special tokens left out). */
  public String decode(int[] ids) { return tokenizer.decode(ids); }

  public TextTokenizer tokenizer() { return tokenizer; }
}
