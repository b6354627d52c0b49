// How a generation's parameters are settled: what was asked, then the model's own defaults, then DEFAULT_PARAMS.

import { DEFAULT_PARAMS, type GenerationParams, type SamplingDefaults } from './types.ts'

/** Layers of asked-for values, later ones on top; an undefined field leaves the one below. */
export function mergeParams(...layers: Partial<GenerationParams>[]): Partial<GenerationParams> {
  const merged: Partial<GenerationParams> = {}
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer) as [keyof GenerationParams, unknown][]) {
      if (value !== undefined) Object.assign(merged, { [key]: Array.isArray(value) ? [...value] : value })
    }
  }
  return merged
}

/**
 * [TAG_PARAM_PRECEDENCE] `asked` is what the request, the conversation and the user's settings set
 * (merged by the caller, the most specific on top). A field none of them sets comes from the
 * model's generation_config.json, and one the model does not name from DEFAULT_PARAMS (no penalty,
 * no top-k, top-p or min-p cut). Asking for greedy decoding (temperature 0) sets the model's
 * sampling recipe aside as a whole: greedy is then plain argmax unless a penalty is asked for too,
 * so `temperature 0` reproduces a reference output whatever the model's recipe says.
 */
export function resolveParams(asked: Partial<GenerationParams>, model: SamplingDefaults): GenerationParams {
  const fromModel = asked.temperature === 0 ? {} : model
  return Object.assign({ ...DEFAULT_PARAMS, stop: [...DEFAULT_PARAMS.stop] }, mergeParams(fromModel, asked))
}
