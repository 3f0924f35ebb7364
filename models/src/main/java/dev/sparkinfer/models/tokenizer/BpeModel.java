package dev.sparkinfer.models.tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The BPE model of one word: its symbols start as single chars, and the adjacent pair with the lowest merge rank is
 * merged until no pair has a rank (Sennrich et al.; OpenAI's encoder.py {@code bpe()}, the Rust library's
 * {@code Word::merge_all}). Symbols are token ids and merges a table (left id, right id) -> (rank, merged id), so a
 * merge step is one probe of a primitive hash table, and a priority queue of (rank, position) makes a word of n chars
 * cost O(n log n) rather than encoder.py's O(n^2) (base64 blobs and long runs of one char exist in real corpora).
 *
 * <p>Merging the lowest-rank pair one occurrence at a time, leftmost first, gives the same result as encoder.py's
 * "merge every occurrence of the best pair": the pairs a merge creates contain the merged token, which only exists
 * after that merge, so their ranks are higher and never jump the queue.
 *
 * <p>Immutable and thread-safe; callers cache results per word.
 */
final class BpeModel {
  private final Map<String, Integer> vocab;
  private final MergeTable merges;
  private final boolean ignoreMerges;
  private final String endOfWordSuffix; // CLIP's "</w>" on the last symbol of a word; null for none

  /**
   * @param vocab           token -> id
   * @param merges          the merges in rank order, each {left, right}
   * @param ignoreMerges    a word that is itself in the vocabulary is one token, whatever the merges say (LLaMA-3)
   * @param endOfWordSuffix appended to the last char of every word before merging (CLIP's {@code </w>}), or null
   * @param mergesSource    names the merges (file, and where in it) in error messages
   */
  BpeModel(Map<String, Integer> vocab, List<String[]> merges, boolean ignoreMerges, String endOfWordSuffix,
           String mergesSource) {
    this.vocab = vocab;
    this.ignoreMerges = ignoreMerges;
    this.endOfWordSuffix = endOfWordSuffix == null || endOfWordSuffix.isEmpty() ? null : endOfWordSuffix;
    this.merges = new MergeTable(merges.size());
    for (int rank = 0; rank < merges.size(); rank++) {
      String[] m = merges.get(rank);
      Integer a = vocab.get(m[0]);
      Integer b = vocab.get(m[1]);
      Integer ab = vocab.get(m[0] + m[1]);
      if (a == null || b == null || ab == null) {
        String missing = a == null ? m[0] : b == null ? m[1] : m[0] + m[1];
        throw new IllegalArgumentException(mergesSource + ", merge " + (rank + 1) + " '" + m[0] + " " + m[1]
            + "': '" + missing + "' is not in the vocabulary; the merges and the vocabulary are from different tokenizers");
      }
      this.merges.putIfAbsent(a, b, rank, ab); // a repeated merge keeps its first (lowest) rank, as both references do
    }
    // every byte must be a symbol, or some text could not be tokenized at all
    for (int b = 0; b < 256; b++) {
      String c = String.valueOf(ByteLevelAlphabet.charOf(b));
      for (String symbol : this.endOfWordSuffix == null ? List.of(c) : List.of(c, c + this.endOfWordSuffix)) {
        if (!vocab.containsKey(symbol)) {
          throw new IllegalArgumentException("the vocabulary lacks the symbol '" + symbol + "' of byte " + b
              + ": it is not a byte-level BPE vocabulary");
        }
      }
    }
  }

  /** The token ids of one word, given in the byte-level alphabet (non-empty). */
  int[] tokenize(String word) {
    if (ignoreMerges) {
      Integer whole = vocab.get(word);
      if (whole != null) return new int[] {whole};
    }
    int n = word.length();
    int[] sym = new int[n];
    for (int i = 0; i < n; i++) {
      sym[i] = vocab.get(i == n - 1 && endOfWordSuffix != null ? word.charAt(i) + endOfWordSuffix : String.valueOf(word.charAt(i)));
    }
    return n < 2 ? sym : merge(sym);
  }

  /** Merges symbols in place as a linked list; returns the surviving ones in order. */
  private int[] merge(int[] sym) {
    int n = sym.length;
    int[] prev = new int[n];
    int[] next = new int[n];
    boolean[] gone = new boolean[n];
    for (int i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    LongHeap queue = new LongHeap(n);
    for (int i = 0; i + 1 < n; i++) offer(queue, sym[i], sym[i + 1], i);
    int left = n;
    while (!queue.isEmpty()) {
      long top = queue.poll();
      int rank = (int) (top >>> 32);
      int pos = (int) top;
      int nx = next[pos];
      if (gone[pos] || nx < 0) continue;
      long m = merges.get(sym[pos], sym[nx]);
      if (m == MergeTable.NONE || (int) (m >>> 32) != rank) continue; // a stale entry: one side was merged since
      sym[pos] = (int) m;
      gone[nx] = true;
      left--;
      next[pos] = next[nx];
      if (next[pos] >= 0) prev[next[pos]] = pos;
      if (prev[pos] >= 0) offer(queue, sym[prev[pos]], sym[pos], prev[pos]);
      if (next[pos] >= 0) offer(queue, sym[pos], sym[next[pos]], pos);
    }
    int[] out = new int[left];
    for (int i = 0, k = 0; i >= 0; i = next[i]) out[k++] = sym[i]; // position 0 always survives: merges absorb the right side
    return out;
  }

  private void offer(LongHeap queue, int a, int b, int pos) {
    long m = merges.get(a, b);
    if (m != MergeTable.NONE) queue.add((m >>> 32) << 32 | pos); // (rank, position): lowest rank, then leftmost
  }

  /** (left id, right id) -> rank << 32 | merged id, open addressing over two long arrays. */
  private static final class MergeTable {
    static final long NONE = -1L;
    private final long[] keys;
    private final long[] values;
    private final int mask;

    MergeTable(int expected) {
      int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
      keys = new long[cap];
      values = new long[cap];
      Arrays.fill(keys, NONE); // ids are non-negative, so no real key is -1
      mask = cap - 1;
    }

    private int slot(long key) { return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask; }

    void putIfAbsent(int a, int b, int rank, int merged) {
      long key = (long) a << 32 | b;
      int s = slot(key);
      while (keys[s] != NONE) {
        if (keys[s] == key) return;
        s = (s + 1) & mask;
      }
      keys[s] = key;
      values[s] = (long) rank << 32 | merged;
    }

    long get(int a, int b) {
      long key = (long) a << 32 | b;
      for (int s = slot(key); ; s = (s + 1) & mask) {
        long k = keys[s];
        if (k == key) return values[s];
        if (k == NONE) return NONE;
      }
    }
  }

  /** A binary min-heap of longs. */
  private static final class LongHeap {
    private long[] a;
    private int size;

    LongHeap(int capacity) { a = new long[Math.max(4, capacity)]; }

    boolean isEmpty() { return size == 0; }

    void add(long v) {
      if (size == a.length) a = Arrays.copyOf(a, size * 2);
      int i = size++;
      while (i > 0) {
        int parent = (i - 1) >>> 1;
        if (a[parent] <= v) break;
        a[i] = a[parent];
        i = parent;
      }
      a[i] = v;
    }

    long poll() {
      long top = a[0];
      long last = a[--size];
      int i = 0;
      while (true) {
        int c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && a[c + 1] < a[c]) c++;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
      return top;
    }
  }
}
