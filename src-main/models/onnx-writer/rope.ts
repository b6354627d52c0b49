// The rotary embedding's inverse frequencies, with the scalings that only change them (as
// transformers' rope initialisers compute them): the graph turns them into its cos/sin tables.

/**
 * How the frequencies are scaled for a longer context, transformers' `rope_scaling`. Only kinds
 * that change the frequencies alone; a cos/sin multiplier (yarn's and longrope's
 * attention_factor) is DecoderShape#ropeAttentionFactor.
 */
export type RopeScaling =
  /** Positions divided by `factor`: every frequency divided by it. */
  | { type: 'linear'; factor: number }
  /** Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth blend between. */
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContextLength: number }
  /** One divisor per frequency [headDim / 2], as llama.cpp stores the above (rope_freqs.weight). */
  | { type: 'factors'; factors: Float32Array }

/** [headDim / 2]: 1 / theta^(2i / headDim), then scaled. */
export function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling | null = null): number[] {
  const base = Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim))
  if (scaling === null) return base
  switch (scaling.type) {
    case 'linear':
      return base.map((f) => f / scaling.factor)
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalContextLength } = scaling
      const lowFreqWavelen = originalContextLength / lowFreqFactor
      const highFreqWavelen = originalContextLength / highFreqFactor
      return base.map((f) => {
        const wavelen = (2 * Math.PI) / f
        if (wavelen < highFreqWavelen) return f
        if (wavelen > lowFreqWavelen) return f / factor
        const smooth = (originalContextLength / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
        return (1 - smooth) * (f / factor) + smooth * f
      })
    }
    case 'factors':
      if (scaling.factors.length !== headDim / 2) {
        throw new Error(`rope factors: ${scaling.factors.length} values for ${headDim / 2} frequencies`)
      }
      return base.map((f, i) => f / scaling.factors[i]!)
  }
}

/**
 * Whole tables as transformers 4.35-4.37 keep them (cos_cached, sin_cached), [rows, headDim] each:
 * cos and sin of Concat(p * invFreq, p * invFreq) for positions p = 0 .. rows - 1, times `factor`.
 */
export function ropeCache(invFreq: number[], rows: number, factor = 1): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length
  const cos = new Float32Array(rows * 2 * half)
  const sin = new Float32Array(rows * 2 * half)
  for (let p = 0; p < rows; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i]!
      cos[p * 2 * half + i] = cos[p * 2 * half + half + i] = Math.cos(angle) * factor
      sin[p * 2 * half + i] = sin[p * 2 * half + half + i] = Math.sin(angle) * factor
    }
  }
  return { cos, sin }
}
