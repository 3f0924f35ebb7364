package dev.sparkinfer.jobs;

/** A problem with the arguments, paths or model, found before any Spark job runs; the message says what to fix. */
public final class UsageException extends RuntimeException {
  public UsageException(String message) { super(message); }

  public UsageException(String message, Throwable cause) { super(message, cause); }
}
