// GGUFs the bench's writer makes at the SmolLM2-135M and Qwen2.5-0.5B shapes (2 layers each, to
// keep the suite quick; `npm run bench -- gguf-check` runs the whole models), imported and run
// beside the ONNX model they were written from: F32 to fp32 rounding, Q4_0 within a 4-bit bound.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildModel, SHAPES, type ShapeName } from '../../../../tools/model-builder/build-model.ts'
import { checkGguf } from '../../../../tools/bench/gguf-check.ts'
import { writeLlamaGguf } from '../../../../tools/bench/llama-gguf.ts'

const STEPS = 20
let root = ''

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-shapes-'))
})
after(() => rm(root, { recursive: true, force: true }))

// Each shape's width, heads, KV heads, FFN and rope base. Qwen2.5's vocabulary is cut from 151,936
// to 32,768: whole, its embedding alone takes ~50 s here. Both whole vocabularies go through the
// GGUF tokenizer in tokenizer.test.ts.
const CASES: { shape: ShapeName; vocab: number }[] = [
  { shape: 'smollm2-135m', vocab: SHAPES['smollm2-135m'].vocab },
  { shape: 'qwen2.5-0.5b', vocab: 32768 },
]

for (const { shape, vocab } of CASES) {
  describe(`a GGUF the bench writes of a 2-layer ${shape}-shaped model`, () => {
    let source = ''
    before(async () => {
      source = path.join(root, shape)
      // As the bench builds its models: attention, RMSNorm and RoPE as Optimum's exports write them.
      await buildModel(source, { shape, layers: 2, vocab, repeatKv: true, exportedRmsNorm: true, exportedRope: true })
    })

    it(`imports from F32 and gives the ONNX model's ${STEPS} greedy tokens, its logits to fp32 rounding`, async () => {
      const file = path.join(root, `${shape}-f32.gguf`)
      await writeLlamaGguf(source, file, { precision: 'f32' })
      // checkGguf adds the source's lm_head.bias (the builder's text bias) to the import's logits:
      // a llama GGUF has no tensor for it, so writeLlamaGguf leaves it out.
      const check = await checkGguf(source, file, root, STEPS)
      // token_embd, output_norm, and 9 a layer: the builder gives its Qwen2 shape no q, k, v biases.
      assert.deepEqual(check.conversion.sourceTypes, { F32: 20 })
      assert.equal(check.conversion.variant, 'fp32')
      assert.equal(check.conversion.floatTensors, 14)
      assert.deepEqual(check.tokens, check.referenceTokens)
      // Over 131 positions of prompt, greedy reply and other text: the greedy reply of a 2-layer
      // random model repeats one token, so the logits carry the comparison.
      assert.equal(check.top1Agreement, 1)
      // Measured 1.1e-7 of the scale at both shapes: a wrong rope permutation, norm or tied head
      // moves logits by whole units.
      assert.ok(check.maxAbsDiff <= 1e-5 * check.logitScale, `max |Δ| ${check.maxAbsDiff} at scale ${check.logitScale}`)
    })

    it('imports from Q4_0 with every block carried over exactly, within the 4-bit bound', async () => {
      const file = path.join(root, `${shape}-q4_0.gguf`)
      await writeLlamaGguf(source, file, { precision: 'q4_0' })
      const check = await checkGguf(source, file, root, STEPS)
      assert.equal(check.conversion.variant, 'q4')
      // 7 projections a layer, and the tied head's own Q4_0 copy (output.weight), as a real
      // model_q4.onnx holds a 4-bit head beside its fp32 embedding.
      assert.equal(check.conversion.exactTensors, 15)
      assert.equal(check.conversion.requantizedTensors, 0)
      // Q4_0's own error against the fp32 weights, nothing added by the import: measured 0.063 and
      // 0.065 relative RMS, top-1 agreement 96% and 99%, with the 4-bit head; the bench's own int4
      // ONNX is at ~0.063.
      assert.ok(check.relRms < 0.1, `relative RMS ${check.relRms}`)
      assert.ok(check.top1Agreement >= 0.9, `top-1 agreement ${check.top1Agreement}`)
    })
  })
}
