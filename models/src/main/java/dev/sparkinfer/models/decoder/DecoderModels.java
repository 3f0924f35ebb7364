package dev.sparkinfer.models.decoder;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sparkinfer.kernels.Ops;
import dev.sparkinfer.models.gpt2.Gpt2Model;
import dev.sparkinfer.models.llama.LlamaModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Which decoder family a Hugging Face folder holds (config.json's model_type), and loading it. */
public final class DecoderModels {
  private DecoderModels() {}

  /** model_type of the folder's config.json; fails, saying what to fix, when the folder is not a decoder we run. */
  public static String modelType(Path dir) {
    Path cfg = dir.resolve("config.json");
    if (!Files.isRegularFile(cfg)) {
      throw new IllegalArgumentException(dir + " is not a Hugging Face model folder (no config.json); --model needs a folder "
          + "with config.json, the safetensors weights and the tokenizer files");
    }
    String type;
    try {
      type = new ObjectMapper().readTree(Files.readAllBytes(cfg)).path("model_type").asText();
    } catch (IOException e) {
      throw new IllegalArgumentException(cfg + ": cannot read it (" + e.getMessage() + ")", e);
    }
    return switch (type) {
      case "gpt2", "llama", "mistral", "mixtral" -> type;
      default -> throw new IllegalArgumentException(cfg + ": model_type '" + type + "' is not a decoder this engine runs "
          + "(gpt2, llama, mistral, mixtral)");
    };
  }

  /** Loads the folder's model onto {@code ops} with a KV cache of entries x capacity tokens; lora may be null. */
  public static CausalLm load(Path dir, Path lora, Ops ops, int entries, int capacity) {
    return load(dir, lora, ops, entries, capacity, dev.sparkinfer.kernels.Quantization.NONE);
  }

  /** As above, the layers' Linear weights quantized at load ({@code sparkinfer.quantize}; NONE: as stored). */
  public static CausalLm load(Path dir, Path lora, Ops ops, int entries, int capacity, dev.sparkinfer.kernels.Quantization quantize) {
    return load(dir, lora, ops, entries, capacity, quantize, dev.sparkinfer.kernels.Pruning.NONE);
  }

  /** As above, the same Linear weights magnitude-pruned first ({@code sparkinfer.prune}, {@code --prune}; NONE: as stored). */
  public static CausalLm load(Path dir, Path lora, Ops ops, int entries, int capacity, dev.sparkinfer.kernels.Quantization quantize,
                              dev.sparkinfer.kernels.Pruning prune) {
    String type = modelType(dir);
    checkWeights(dir, quantize, prune, lora != null);
    if (type.equals("gpt2")) {
      if (lora != null) throw new IllegalArgumentException("--lora is supported for the LLaMA family, not GPT-2");
      return Gpt2Model.load(dir, ops, entries, capacity, quantize, prune);
    }
    return LlamaModel.load(dir, lora, ops, entries, capacity, quantize, prune);
  }

  /**
   * Checks, before any weight is read, that the folder's weights can be loaded as asked: a GPTQ checkpoint
   * ({@link dev.sparkinfer.models.llama.GptqCheckpoint}) must be of the LLaMA family, in a supported GPTQ setting, and
   * loaded as stored (no --quantize, --prune or --lora). Fails saying what to change.
   */
  public static void checkWeights(Path dir, dev.sparkinfer.kernels.Quantization quantize, dev.sparkinfer.kernels.Pruning prune, boolean lora) {
    var gptq = dev.sparkinfer.models.llama.GptqCheckpoint.read(dir);
    if (gptq == null) return;
    if (modelType(dir).equals("gpt2")) {
      throw new IllegalArgumentException(dir + ": GPTQ checkpoints are loaded for the LLaMA family (llama, mistral, mixtral), not GPT-2");
    }
    if (quantize != dev.sparkinfer.kernels.Quantization.NONE || !prune.isNone() || lora) {
      throw new IllegalArgumentException(dir + " is a GPTQ 4-bit checkpoint (" + gptq.source() + "): its weights load as they are; "
          + "--quantize, --prune and --lora apply to float or 16-bit checkpoints only: leave them out");
    }
  }

  /** Rows of the folder's token embeddings (config.json's vocab_size). */
  public static int vocabSize(Path dir) {
    return modelType(dir).equals("gpt2") ? dev.sparkinfer.models.gpt2.Gpt2Config.read(dir).vocabSize()
        : dev.sparkinfer.models.llama.LlamaConfig.read(dir).vocabSize();
  }

  /** The positions the folder's model was trained for (max_position_embeddings / n_positions). */
  public static int positions(Path dir) {
    return modelType(dir).equals("gpt2") ? dev.sparkinfer.models.gpt2.Gpt2Config.read(dir).positions()
        : dev.sparkinfer.models.llama.LlamaConfig.read(dir).positions();
  }
}
