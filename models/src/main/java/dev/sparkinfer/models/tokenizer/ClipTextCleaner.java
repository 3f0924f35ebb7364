package dev.sparkinfer.models.tokenizer;

import java.nio.charset.Charset;
import java.text.Normalizer;
import java.util.Locale;
import java.util.Map;

/**
 * The text clean-up of OpenAI CLIP's {@code simple_tokenizer.encode}: {@code basic_clean} (ftfy, then
 * {@code html.unescape} twice, strip), {@code whitespace_clean} (runs of {@code \s} to one space, strip), lower case.
 *
 * <p>Of ftfy only its last step, NFC, is done. Its other fixes are left out on purpose: the reference ids of
 * tokenizers/cases.jsonl keep the fullwidth comma U+FF0C of the Chinese case, which ftfy's default
 * {@code fix_character_width} turns into ','. Texts with mojibake, curly quotes or ligatures can therefore differ from
 * an OpenAI install that has ftfy. (The fixtures' texts are NFC already, so they cannot tell whether the reference
 * applied NFC; OpenAI's own runs, with ftfy, did.)
 *
 * <p>{@code html.unescape} is reproduced for numeric references (with Python's replacements for invalid ones) and the
 * common named entities; Python knows all 2,231 HTML5 names, so a rare name (e.g. {@code &Alpha;}) stays as typed here.
 */
final class ClipTextCleaner {
  /** Named references with their semicolon (a small, common subset of Python's html5 table). */
  private static final Map<String, String> NAMED = Map.ofEntries(
      Map.entry("amp;", "&"), Map.entry("lt;", "<"), Map.entry("gt;", ">"), Map.entry("quot;", "\""),
      Map.entry("apos;", "'"), Map.entry("nbsp;", "\u00A0"), Map.entry("copy;", "\u00A9"), Map.entry("reg;", "\u00AE"),
      Map.entry("trade;", "\u2122"), Map.entry("hellip;", "\u2026"), Map.entry("mdash;", "\u2014"),
      Map.entry("ndash;", "\u2013"), Map.entry("lsquo;", "\u2018"), Map.entry("rsquo;", "\u2019"),
      Map.entry("ldquo;", "\u201C"), Map.entry("rdquo;", "\u201D"), Map.entry("laquo;", "\u00AB"),
      Map.entry("raquo;", "\u00BB"), Map.entry("middot;", "\u00B7"), Map.entry("bull;", "\u2022"),
      Map.entry("deg;", "\u00B0"), Map.entry("times;", "\u00D7"), Map.entry("divide;", "\u00F7"),
      Map.entry("euro;", "\u20AC"), Map.entry("pound;", "\u00A3"), Map.entry("yen;", "\u00A5"),
      Map.entry("cent;", "\u00A2"), Map.entry("sect;", "\u00A7"), Map.entry("para;", "\u00B6"));
  /** HTML's legacy names that also work without the semicolon (the common ones; "&amp" is "&"). */
  private static final Map<String, String> LEGACY = Map.of("amp", "&", "lt", "<", "gt", ">", "quot", "\"",
      "nbsp", "\u00A0", "copy", "\u00A9", "reg", "\u00AE", "AMP", "&", "LT", "<", "GT", ">");
  private static final Charset CP1252 = Charset.forName("windows-1252");

  private ClipTextCleaner() {}

  static String clean(String text) {
    String s = unescapeHtml(unescapeHtml(Normalizer.normalize(text, Normalizer.Form.NFC)));
    return collapseWhitespace(s).toLowerCase(Locale.ROOT); // Python's str.lower: full mappings, final sigma, as here
  }

  /** {@code re.sub(r'\s+', ' ', text).strip()} with the regex module's Unicode {@code \s} (White_Space). */
  static String collapseWhitespace(String s) {
    StringBuilder out = new StringBuilder(s.length());
    boolean pendingSpace = false;
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      i += Character.charCount(cp);
      if (AddedTokenMatcher.isWhiteSpace(cp)) {
        pendingSpace = out.length() > 0;
      } else {
        if (pendingSpace) out.append(' ');
        pendingSpace = false;
        out.appendCodePoint(cp);
      }
    }
    return out.toString();
  }

  /** Python's {@code html.unescape}: {@code &#NN;}, {@code &#xHH;} and named references, semicolons optional. */
  static String unescapeHtml(String s) {
    int amp = s.indexOf('&');
    if (amp < 0) return s;
    StringBuilder out = new StringBuilder(s.length());
    int at = 0;
    while (amp >= 0) {
      out.append(s, at, amp);
      int end = referenceEnd(s, amp + 1);
      if (end < 0) {
        out.append('&');
        at = amp + 1;
      } else {
        out.append(replace(s.substring(amp + 1, end)));
        at = end;
      }
      amp = s.indexOf('&', at);
    }
    return out.append(s, at, s.length()).toString();
  }

  /** The end of a reference after '&' (Python's pattern: #digits;? | #x hex;? | [^\t\n\f <&#;]{1,32};?), or -1. */
  private static int referenceEnd(String s, int from) {
    int i = from;
    int n = s.length();
    if (i < n && s.charAt(i) == '#') {
      boolean hex = i + 1 < n && (s.charAt(i + 1) == 'x' || s.charAt(i + 1) == 'X');
      int j = hex ? i + 2 : i + 1;
      int digits = j;
      while (j < n && Character.digit(s.charAt(j), hex ? 16 : 10) >= 0 && s.charAt(j) < 0x80) j++;
      if (j == digits) return -1;
      return j < n && s.charAt(j) == ';' ? j + 1 : j;
    }
    int j = i;
    while (j < n && j - i < 32 && "\t\n\f <&#;".indexOf(s.charAt(j)) < 0) j++;
    if (j == i) return -1;
    return j < n && s.charAt(j) == ';' ? j + 1 : j;
  }

  private static String replace(String ref) {
    if (ref.charAt(0) == '#') {
      boolean hex = ref.length() > 1 && (ref.charAt(1) == 'x' || ref.charAt(1) == 'X');
      String digits = ref.substring(hex ? 2 : 1, ref.endsWith(";") ? ref.length() - 1 : ref.length());
      long num;
      try {
        num = digits.length() > 12 ? Long.MAX_VALUE : Long.parseLong(digits, hex ? 16 : 10);
      } catch (NumberFormatException e) {
        num = Long.MAX_VALUE;
      }
      return numeric(num);
    }
    String named = NAMED.get(ref);
    if (named != null) return named;
    for (int x = ref.length() - 1; x > 1; x--) { // the longest legacy name that prefixes it, as Python does
      String legacy = LEGACY.get(ref.substring(0, x));
      if (legacy != null) return legacy + ref.substring(x);
    }
    if (LEGACY.containsKey(ref)) return LEGACY.get(ref);
    return "&" + ref;
  }

  /** Python's replacement of a numeric reference: cp1252 for 0x80-0x9F, U+FFFD for 0/surrogates/too big, '' for controls. */
  private static String numeric(long num) {
    if (num == 0 || (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return "\uFFFD";
    if (num == 0x0D) return "\r";
    if (num >= 0x80 && num <= 0x9F) {
      String c = new String(new byte[] {(byte) num}, CP1252);
      return c.equals("\uFFFD") ? String.valueOf((char) num) : c; // 0x81, 0x8D, 0x8F, 0x90, 0x9D stay as they are
    }
    int cp = (int) num;
    boolean invalid = (cp >= 0x1 && cp <= 0x8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F)
        || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
    return invalid ? "" : new String(Character.toChars(cp));
  }
}
