package dev.sparkinfer.models.weights;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A view of part of a checkpoint under another model's names: the tensors whose names start with one of the
 * checkpoint's prefixes, seen with the matching prefix of ours (a LLaVA checkpoint's {@code language_model.model.*}
 * seen as a LLaMA checkpoint's {@code model.*}). Tensors under none of the prefixes are not in the view.
 */
public final class RenamedWeights implements WeightSource {
  private final WeightSource w;
  private final String[] ours, theirs;

  private RenamedWeights(WeightSource w, String[] ours, String[] theirs) {
    this.w = w;
    this.ours = ours;
    this.theirs = theirs;
  }

  /** {@code pairs}: our prefix, the checkpoint's prefix, and so on; the first pair that matches a name is used. */
  public static RenamedWeights of(WeightSource w, String... pairs) {
    if (pairs.length == 0 || pairs.length % 2 != 0) throw new IllegalArgumentException("prefix pairs expected, got " + pairs.length + " strings");
    String[] o = new String[pairs.length / 2], t = new String[pairs.length / 2];
    for (int i = 0; i < o.length; i++) {
      o[i] = pairs[2 * i];
      t[i] = pairs[2 * i + 1];
    }
    return new RenamedWeights(w, o, t);
  }

  /** The checkpoint's name of one of ours, or null when none of our prefixes matches. */
  private String theirs(String name) {
    for (int i = 0; i < ours.length; i++) if (name.startsWith(ours[i])) return theirs[i] + name.substring(ours[i].length());
    return null;
  }

  private String require(String name) {
    String t = theirs(name);
    if (t == null || !w.has(t)) throw new IllegalArgumentException(w.origin() + ": no tensor '" + (t == null ? name : t) + "'");
    return t;
  }

  @Override
  public Set<String> names() {
    Set<String> out = new LinkedHashSet<>();
    for (String n : w.names()) {
      for (int i = 0; i < theirs.length; i++) {
        if (n.startsWith(theirs[i])) {
          out.add(ours[i] + n.substring(theirs[i].length()));
          break;
        }
      }
    }
    return out;
  }

  @Override public boolean has(String name) { String t = theirs(name); return t != null && w.has(t); }
  @Override public long[] shape(String name) { return w.shape(require(name)); }
  @Override public DType dtype(String name) { return w.dtype(require(name)); }
  @Override public float[] floats(String name) { return w.floats(require(name)); }
  @Override public char[] bits16(String name) { return w.bits16(require(name)); }
  @Override public long[] longs(String name) { return w.longs(require(name)); }
  @Override public String origin() { return w.origin(); }
  @Override public void close() {} // the underlying source belongs to the caller
}
