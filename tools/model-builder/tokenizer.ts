// Writes the tokenizer side of a test model: a byte-level BPE tokenizer.json (as GPT-2, SmolLM2,
// Qwen2) and a tokenizer_config.json with a ChatML chat template, for any vocab size from 259 up.
//
// Token ids: 0 <|endoftext|>, 1 <|im_start|>, 2 <|im_end|> (the SmolLM2 layout), then the 256
// byte tokens, then merges. vocabSize counts every id, so it equals config.json's vocab_size.

export interface SpecialTokenIds {
  /** <|endoftext|> */
  endOfText: number
  /** bos_token: <|im_start|>, as SmolLM2 declares it. */
  bos: number
  /** eos_token: <|im_end|>, which also ends every ChatML turn. */
  eos: number
  imStart: number
  imEnd: number
  /** pad_token: <|im_end|>. */
  pad: number
}

export interface TokenizerFiles {
  /** Contents of tokenizer.json. */
  tokenizerJson: object
  /** Contents of tokenizer_config.json. */
  tokenizerConfig: object
  specialTokens: SpecialTokenIds
}

export interface TokenizerBuildOptions {
  /** Total ids, specials included; at least 259 (3 specials + 256 bytes). */
  vocabSize: number
  seed?: number
}

export function buildTokenizerFiles(opts: TokenizerBuildOptions): TokenizerFiles {
  throw new Error(`buildTokenizerFiles(${opts.vocabSize}): not implemented yet`)
}
