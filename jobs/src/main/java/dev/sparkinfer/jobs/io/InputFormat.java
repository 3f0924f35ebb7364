package dev.sparkinfer.jobs.io;

import java.util.Locale;

/** Corpus formats; AUTO tells them apart by file name (compression suffixes such as .gz are looked through). */
public enum InputFormat {
  AUTO, JSONL, PARQUET, CSV, TEXT,
  /** WebDataset tar shards (KEY.jpg + KEY.txt / KEY.json), as img2dataset writes them: image jobs only. */
  WEBDATASET;

  public static InputFormat parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown input format '" + s + "': use auto, jsonl, parquet, csv, text or webdataset");
    }
  }

  /** The format a file name says, or null when it says none. */
  public static InputFormat fromFileName(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    for (String c : new String[] {".gz", ".bz2", ".zst", ".deflate", ".lz4", ".snappy"}) {
      if (n.endsWith(c)) n = n.substring(0, n.length() - c.length());
    }
    if (n.endsWith(".jsonl") || n.endsWith(".json") || n.endsWith(".ndjson")) return JSONL;
    if (n.endsWith(".parquet")) return PARQUET;
    if (n.endsWith(".csv")) return CSV;
    if (n.endsWith(".txt") || n.endsWith(".text")) return TEXT;
    if (n.endsWith(".tar")) return WEBDATASET;
    return null;
  }
}
