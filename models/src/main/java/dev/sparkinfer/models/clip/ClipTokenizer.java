package dev.sparkinfer.models.clip;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's tokenizer (OpenAI clip/simple_tokenizer.py): clean the text (NFC, HTML entities unescaped twice, whitespace
 * runs collapsed, stripped), lowercase, split with CLIP's regex, map each piece's UTF-8 bytes to GPT-2's byte alphabet,
 * byte-level BPE with {@code </w>} marking the end of a word, SOT ... EOT. From Hugging Face's {@code vocab.json} +
 * {@code merges.txt} or OpenAI's {@code bpe_simple_vocab_16e6.txt.gz}. ftfy's mojibake repairs are not reproduced:
 * text that needs them may tokenize differently from the reference.
 */
public final class ClipTokenizer {
  public static final int CONTEXT = 77;
  private static final Pattern SPLIT = Pattern.compile(
      "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
      Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CHARACTER_CLASS);
  private static final Pattern SPACES = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
  private static final char[] BYTE_TO_CHAR = new char[256];

  static {
    boolean[] printable = new boolean[256];
    for (int b = '!'; b <= '~'; b++) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
    int n = 0;
    for (int b = 0; b < 256; b++) BYTE_TO_CHAR[b] = printable[b] ? (char) b : (char) (256 + n++);
  }

  private final Map<String, Integer> vocab;
  private final Map<String, Integer> ranks;
  private final int sot, eot;
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();

  private ClipTokenizer(Map<String, Integer> vocab, Map<String, Integer> ranks) {
    this.vocab = vocab;
    this.ranks = ranks;
    Integer s = vocab.get("<|startoftext|>"), e = vocab.get("<|endoftext|>");
    if (s == null || e == null) throw new IllegalArgumentException("the CLIP vocabulary lacks <|startoftext|> or <|endoftext|>");
    sot = s;
    eot = e;
  }

  /** Hugging Face's CLIPTokenizer files. */
  public static ClipTokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt) {
    try {
      Map<String, Integer> vocab = new HashMap<>();
      new ObjectMapper().readTree(Files.readAllBytes(vocabJson)).fields().forEachRemaining(f -> vocab.put(f.getKey(), f.getValue().asInt()));
      Map<String, Integer> ranks = new HashMap<>();
      int r = 0;
      for (String line : Files.readAllLines(mergesTxt, StandardCharsets.UTF_8)) {
        if (line.startsWith("#version") || line.isBlank()) continue;
        ranks.putIfAbsent(line.strip(), r++);
      }
      return new ClipTokenizer(vocab, ranks);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the CLIP tokenizer files " + vocabJson + " and " + mergesTxt + ": " + e.getMessage(), e);
    }
  }

  /** OpenAI's bpe_simple_vocab_16e6.txt.gz: the vocabulary is built from the byte alphabet and the first 48,894 merges. */
  public static ClipTokenizer fromOpenAiBpe(Path gz) {
    List<String> merges = new ArrayList<>();
    try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
      String[] lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n");
      for (int i = 1; i < Math.min(lines.length, 49152 - 256 - 2 + 1); i++) merges.add(lines[i]);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + gz + ": " + e.getMessage(), e);
    }
    List<String> words = new ArrayList<>();
    for (char c : BYTE_TO_CHAR) words.add(String.valueOf(c));
    for (char c : BYTE_TO_CHAR) words.add(c + "</w>");
    for (String m : merges) words.add(m.replace(" ", ""));
    words.add("<|startoftext|>");
    words.add("<|endoftext|>");
    Map<String, Integer> vocab = new HashMap<>(), ranks = new HashMap<>();
    for (int i = 0; i < words.size(); i++) vocab.put(words.get(i), i);
    for (int i = 0; i < merges.size(); i++) ranks.putIfAbsent(merges.get(i), i);
    return new ClipTokenizer(vocab, ranks);
  }

  /** SOT, the text's tokens, EOT (no padding, no truncation). */
  public int[] encode(String text) {
    String clean = SPACES.matcher(unescape(unescape(Normalizer.normalize(text, Normalizer.Form.NFC))).strip()).replaceAll(" ").strip()
        .toLowerCase(java.util.Locale.ROOT);
    List<Integer> out = new ArrayList<>();
    out.add(sot);
    Matcher m = SPLIT.matcher(clean);
    while (m.find()) for (int id : word(m.group())) out.add(id);
    out.add(eot);
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The model's input: encode(text) cut to 77 tokens keeping EOT last, zero-padded; {@code truncated} says if cut. */
  public int[] context(String text, boolean[] truncated) {
    int[] ids = encode(text);
    int[] out = new int[CONTEXT];
    boolean cut = ids.length > CONTEXT;
    System.arraycopy(ids, 0, out, 0, Math.min(ids.length, CONTEXT));
    if (cut) out[CONTEXT - 1] = eot;
    if (truncated != null) truncated[0] = cut;
    return out;
  }

  private int[] word(String piece) {
    int[] hit = cache.get(piece);
    if (hit != null) return hit;
    Integer special = piece.equals("<|startoftext|>") || piece.equals("<|endoftext|>") ? vocab.get(piece) : null;
    int[] ids;
    if (special != null) {
      ids = new int[] {special};
    } else {
      byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
      List<String> symbols = new ArrayList<>();
      for (int i = 0; i < utf8.length; i++) {
        String c = String.valueOf(BYTE_TO_CHAR[utf8[i] & 0xff]);
        symbols.add(i == utf8.length - 1 ? c + "</w>" : c);
      }
      while (symbols.size() > 1) {
        int best = -1, bestRank = Integer.MAX_VALUE;
        for (int i = 0; i + 1 < symbols.size(); i++) {
          Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
          if (r != null && r < bestRank) {
            bestRank = r;
            best = i;
          }
        }
        if (best < 0) break;
        String a = symbols.get(best), b = symbols.get(best + 1);
        List<String> next = new ArrayList<>(symbols.size());
        for (int i = 0; i < symbols.size(); i++) {
          if (i + 1 < symbols.size() && symbols.get(i).equals(a) && symbols.get(i + 1).equals(b)) {
            next.add(a + b);
            i++;
          } else {
            next.add(symbols.get(i));
          }
        }
        symbols = next;
      }
      ids = new int[symbols.size()];
      for (int i = 0; i < ids.length; i++) {
        Integer id = vocab.get(symbols.get(i));
        if (id == null) throw new IllegalStateException("the CLIP vocabulary lacks '" + symbols.get(i) + "' its merges produce");
        ids[i] = id;
      }
    }
    if (cache.size() < 200_000) cache.put(piece, ids);
    return ids;
  }

  /** Python's html.unescape for the named entities text commonly holds and for numeric references. */
  static String unescape(String s) {
    if (s.indexOf('&') < 0) return s;
    Matcher m = Pattern.compile("&(#[0-9]+|#[xX][0-9a-fA-F]+|amp|lt|gt|quot|apos|nbsp);?").matcher(s);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String e = m.group(1), r;
      if (e.startsWith("#x") || e.startsWith("#X")) r = new String(Character.toChars(Integer.parseInt(e.substring(2), 16)));
      else if (e.startsWith("#")) r = new String(Character.toChars(Integer.parseInt(e.substring(1))));
      else r = switch (e) {
        case "amp" -> "&";
        case "lt" -> "<";
        case "gt" -> ">";
        case "quot" -> "\"";
        case "apos" -> "'";
        default -> "\u00a0";
      };
      m.appendReplacement(out, Matcher.quoteReplacement(r));
    }
    m.appendTail(out);
    return out.toString();
  }
}
