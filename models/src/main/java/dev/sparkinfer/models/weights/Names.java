package dev.sparkinfer.models.weights;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Helps error messages about missing tensors: names that differ only by a prefix (e.g. {@code bert.}). */
final class Names {
  private Names() {}

  /** {@code " (did you mean 'a', 'b'?)"}, or {@code ""} when nothing similar exists. */
  static String suggest(String wanted, Collection<String> names) {
    List<String> close = new ArrayList<>();
    for (String n : names) {
      if (n.endsWith("." + wanted) || wanted.endsWith("." + n)) {
        close.add("'" + n + "'");
        if (close.size() == 3) break;
      }
    }
    return close.isEmpty() ? " (" + names.size() + " tensors present)" : " (did you mean " + String.join(", ", close) + "?)";
  }
}
