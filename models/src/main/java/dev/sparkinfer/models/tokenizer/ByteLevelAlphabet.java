package dev.sparkinfer.models.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * GPT-2's byte-level alphabet ({@code bytes_to_unicode()} of OpenAI's encoder.py, the ByteLevel pre-tokenizer of
 * Hugging Face tokenizers): every byte is one printable char, so a BPE vocabulary of strings covers arbitrary bytes.
 * Printable Latin-1 bytes map to themselves; the other 68 (controls, space, 0x7F-0xA0, 0xAD) map to U+0100 + n in byte
 * order, which is why a leading space shows as {@code Ġ} (U+0120) in vocab files.
 */
final class ByteLevelAlphabet {
  private static final char[] BYTE_TO_CHAR = new char[256];
  private static final int[] CHAR_TO_BYTE = new int[256 + 68];

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      BYTE_TO_CHAR[b] = printable ? (char) b : (char) (256 + n++);
      CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
    }
  }

  private ByteLevelAlphabet() {}

  static char charOf(int b) { return BYTE_TO_CHAR[b & 0xFF]; }

  /** The byte a char of the alphabet stands for, or -1 for a char outside it. */
  static int byteOf(char c) { return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1; }

  /** The text's UTF-8 bytes, one alphabet char each. */
  static String encode(String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    char[] out = new char[utf8.length];
    for (int i = 0; i < utf8.length; i++) out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
    return new String(out);
  }

  /**
   * Appends the bytes that the chars {@code s[from, to)} stand for; a char outside the alphabet (a vocabulary entry
   * that is not byte-level) is kept as its own UTF-8, as the Rust ByteLevel decoder does.
   */
  static void decode(String s, int from, int to, ByteArrayOutputStream out) {
    for (int i = from; i < to; i++) {
      int b = byteOf(s.charAt(i));
      if (b >= 0) {
        out.write(b);
      } else {
        int cp = s.codePointAt(i);
        out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
        i += Character.charCount(cp) - 1;
      }
    }
  }
}
