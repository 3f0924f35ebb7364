package dev.sparkinfer.models.decoder;

/**
 * One call's token layout: entries padded to the longest ({@code maxLen}); row {@code e * maxLen + i} holds entry e's
 * token i at position {@code positions[e] + i}. Padding rows repeat the entry's last token at the following positions:
 * causal attention never lets a real token see them, and their cache rows are overwritten by later tokens.
 */
public record Batch(int entries, int maxLen, int[] ids, int[] rowPositions, int[] lastRow, int maxEnd) {
  public static Batch of(int[][] tokens, int[] positions, int capacity) {
    int b = tokens.length;
    if (b == 0 || positions.length != b) throw new IllegalArgumentException(b + " token lists but " + positions.length + " positions");
    int q = 0;
    for (int[] t : tokens) {
      if (t.length == 0) throw new IllegalArgumentException("an entry with no tokens");
      q = Math.max(q, t.length);
    }
    int[] ids = new int[b * q], pos = new int[b * q], last = new int[b];
    int end = 0;
    for (int e = 0; e < b; e++) {
      if (positions[e] < 0 || positions[e] + q > capacity) {
        throw new IllegalArgumentException("entry " + e + " would run tokens " + positions[e] + ".." + (positions[e] + q - 1)
            + " (padded to the batch's longest), beyond the cache's " + capacity + " positions");
      }
      for (int i = 0; i < q; i++) {
        ids[e * q + i] = tokens[e][Math.min(i, tokens[e].length - 1)];
        pos[e * q + i] = positions[e] + i;
      }
      last[e] = e * q + tokens[e].length - 1;
      end = Math.max(end, positions[e] + q);
    }
    return new Batch(b, q, ids, pos, last, end);
  }

  public int rows() { return entries * maxLen; }
}
