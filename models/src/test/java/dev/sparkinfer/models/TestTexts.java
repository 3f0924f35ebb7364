package dev.sparkinfer.models;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Varied texts for reference comparisons and benchmarks: short and long (beyond 256 tokens), English and other scripts,
 * punctuation, numbers, URLs, emoji, whitespace-only and empty. Deterministic for a seed.
 */
public final class TestTexts {
  private TestTexts() {}

  static final String[] SENTENCES = {
      "The quick brown fox jumps over the lazy dog.",
      "Spark shards the corpus into partitions and each executor embeds its rows.",
      "A man is eating food.",
      "A man is riding a white horse on an enclosed ground.",
      "Two dogs are playing in the snow near a frozen lake.",
      "The central bank raised interest rates by a quarter of a percentage point on Wednesday.",
      "Photosynthesis converts light energy into chemical energy stored in glucose.",
      "Please send the quarterly report to the finance team before Friday at 5 p.m.",
      "I can't believe it's already November; the year went by so fast!",
      "Error 404: the page you requested (https://example.org/docs/v2?id=17&lang=en) was not found.",
      "In 1969, Apollo 11 landed on the Moon, and Neil Armstrong became the first person to walk on its surface.",
      "Mix 200 g of flour, 2 eggs and 300 ml of milk; rest the batter for 30 minutes.",
      "The patient presented with acute dyspnea, tachycardia (HR 118 bpm) and bilateral crackles.",
      "def embed(texts): return model.encode(texts, batch_size=32, normalize_embeddings=True)",
      "Transformers use self-attention to weigh the relevance of every token to every other token.",
      "She sells sea shells by the sea shore.",
      "Der schnelle braune Fuchs springt über den faulen Hund.",
      "Le café est très chaud, fais attention à ne pas te brûler.",
      "¿Dónde está la estación de tren más cercana?",
      "Быстрая коричневая лиса прыгает через ленивую собаку.",
      "敏捷的棕色狐狸跳过了懒狗。",
      "東京は日本の首都であり、世界最大級の都市圏を持つ。",
      "서울은 대한민국의 수도입니다.",
      "القطة تجلس على الحصيرة بجانب النافذة.",
      "नमस्ते, आप कैसे हैं?",
      "Ελληνικά: η γρήγορη καφέ αλεπού.",
      "Emoji test 😀🚀🔥 — naïve coöperation, façade, résumé, Zürich.",
      "UPPER CASE TEXT SHOULD BE LOWERCASED BY AN UNCASED MODEL!!!",
      "Numbers: 3.14159, 2.71828, 1,000,000 and -42 degrees.",
      "Tabs\tand\nnewlines\r\nare whitespace too.",
      "Hello, world!",
      "ok",
      "a",
      "Is it raining in Seattle today?",
      "The committee will reconvene after the holiday recess to finalise the budget.",
      "Quantum entanglement links the states of particles regardless of the distance between them.",
      "Machine learning models can inherit biases present in their training data.",
      "The museum's new exhibition features impressionist paintings from private collections.",
      "He plays the violin beautifully, although he started only three years ago.",
      "Our flight was delayed by four hours because of a snowstorm in Chicago.",
  };

  static final String[] WORDS = ("time person year way day thing man world life hand part child eye woman place work week "
      + "case point government company number group problem fact river mountain ocean data model kernel tensor batch "
      + "partition executor driver cluster memory device vector embedding attention token sentence corpus image caption "
      + "antidisestablishmentarianism electroencephalography pneumonoultramicroscopicsilicovolcanoconiosis unbelievable "
      + "running jumped happily quickly beautiful enormous tiny ancient modern digital analog").split(" ");

  /** n texts: every fixed sentence, then random mixes; about 1 in 20 is longer than 256 tokens. */
  public static List<String> generate(int n, long seed) {
    Random r = new Random(seed);
    List<String> out = new ArrayList<>(n);
    out.add("");
    out.add("   ");
    out.add("\t\n  \r\n");
    for (String s : SENTENCES) if (out.size() < n) out.add(s);
    while (out.size() < n) {
      int kind = r.nextInt(20);
      StringBuilder b = new StringBuilder();
      if (kind == 0) {
        // long: beyond 256 tokens, so truncation is exercised
        int words = 260 + r.nextInt(300);
        for (int i = 0; i < words; i++) b.append(WORDS[r.nextInt(WORDS.length)]).append(i % 17 == 16 ? ". " : " ");
      } else if (kind <= 3) {
        int parts = 1 + r.nextInt(4);
        for (int i = 0; i < parts; i++) b.append(SENTENCES[r.nextInt(SENTENCES.length)]).append(' ');
      } else if (kind <= 8) {
        int words = 1 + r.nextInt(25);
        for (int i = 0; i < words; i++) b.append(WORDS[r.nextInt(WORDS.length)]).append(' ');
        if (r.nextBoolean()) b.append(r.nextInt(10_000)).append('!');
      } else {
        String s = SENTENCES[r.nextInt(SENTENCES.length)];
        b.append(s, 0, 1 + r.nextInt(s.length()));
      }
      out.add(b.toString());
    }
    return out;
  }
}
