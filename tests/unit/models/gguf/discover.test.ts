// Finding other apps' GGUF files: LM Studio's, Jan's and Ollama's folders laid out as those apps
// write them, in a fake home, and what is not a model to offer left out.

import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { findGgufModels, isGgufFile, modelLayerDigest } from '../../../../src-main/models/gguf/discover.ts'

let home: string

/** A file that starts like a GGUF, `bytes` long. */
async function gguf(file: string, bytes = 64): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(bytes - 4)]))
  return file
}

async function text(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, content)
}

const HEX_A = 'a'.repeat(64)
const HEX_B = 'b'.repeat(64)

/** An Ollama manifest as `ollama pull` writes it: config, model and template layers. */
function manifest(modelHex: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 485 },
    layers: [
      { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'d'.repeat(64)}`, size: 1429 },
      { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${modelHex}`, size: 100 },
      { mediaType: 'application/vnd.ollama.image.license', digest: `sha256:${'e'.repeat(64)}`, size: 6016 },
    ],
  })
}

before(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'hearth-discover-'))
  // LM Studio 0.3: publisher/repo/file; a vision projector and a README beside the model.
  const lms = path.join(home, '.lmstudio', 'models', 'lmstudio-community', 'Qwen2.5-0.5B-Instruct-GGUF')
  await gguf(path.join(lms, 'Qwen2.5-0.5B-Instruct-Q4_K_M.gguf'), 300)
  await gguf(path.join(lms, 'mmproj-model-f16.gguf'))
  await text(path.join(lms, 'README.md'), '# Qwen')
  // A link back up must not be walked round and round.
  await symlink(path.join(home, '.lmstudio', 'models'), path.join(lms, 'loop'))
  // LM Studio before 0.3, with the file linked in from elsewhere (as llama-sync does).
  const elsewhere = await gguf(path.join(home, 'Downloads', 'tinyllama.Q8_0.gguf'), 200)
  await mkdir(path.join(home, '.cache', 'lm-studio', 'models', 'TheBloke', 'TinyLlama-GGUF'), { recursive: true })
  await symlink(elsewhere, path.join(home, '.cache', 'lm-studio', 'models', 'TheBloke', 'TinyLlama-GGUF', 'tinyllama.Q8_0.gguf'))
  // Jan 0.4: ~/jan/models/<id>/ with model.json; Jan 0.6: <data>/llamacpp/models/<id>/model.gguf.
  await gguf(path.join(home, 'jan', 'models', 'phi-2', 'phi-2.Q4_K_M.gguf'), 120)
  await text(path.join(home, 'jan', 'models', 'phi-2', 'model.json'), '{"id": "phi-2"}')
  await gguf(path.join(home, '.local', 'share', 'Jan', 'data', 'llamacpp', 'models', 'Jan-nano-4B', 'model.gguf'), 140)
  await text(path.join(home, '.local', 'share', 'Jan', 'data', 'llamacpp', 'models', 'Jan-nano-4B', 'model.yml'), 'model_path: model.gguf')
  // A data folder moved elsewhere by Jan's settings.json.
  await text(path.join(home, 'Library', 'Application Support', 'Jan', 'settings.json'), JSON.stringify({ data_folder: path.join(home, 'JanData') }))
  await gguf(path.join(home, 'JanData', 'llamacpp', 'models', 'SmolLM2-135M', 'model.gguf'), 160)
  // Ollama: two tags of one blob, a Hugging Face pull, and manifests that name nothing usable.
  const ollama = path.join(home, '.ollama', 'models')
  await gguf(path.join(ollama, 'blobs', `sha256-${HEX_A}`), 100)
  await gguf(path.join(ollama, 'blobs', `sha256-${HEX_B}`), 80)
  await text(path.join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'llama3.2', '1b'), manifest(HEX_A))
  await text(path.join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'llama3.2', 'latest'), manifest(HEX_A))
  await text(path.join(ollama, 'manifests', 'hf.co', 'bartowski', 'SmolLM2-135M-Instruct-GGUF', 'Q8_0'), manifest(HEX_B))
  await text(path.join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'gone', 'latest'), manifest('f'.repeat(64)))
  await text(path.join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'half-written', 'latest'), '{"layers": [')
})

after(async () => {
  await rm(home, { recursive: true, force: true })
})

describe('findGgufModels', () => {
  it("finds LM Studio's, Jan's and Ollama's models as each app lays them out, by app and name", async () => {
    const found = await findGgufModels({ home })
    const ollama = path.join(home, '.ollama', 'models', 'blobs')
    assert.deepEqual(found, [
      {
        app: 'LM Studio',
        name: 'Qwen2.5-0.5B-Instruct-Q4_K_M',
        path: path.join(home, '.lmstudio', 'models', 'lmstudio-community', 'Qwen2.5-0.5B-Instruct-GGUF', 'Qwen2.5-0.5B-Instruct-Q4_K_M.gguf'),
        bytes: 300,
        modelId: 'Qwen2.5-0.5B-Instruct-Q4_K_M',
      },
      {
        app: 'LM Studio',
        name: 'tinyllama.Q8_0',
        path: path.join(home, '.cache', 'lm-studio', 'models', 'TheBloke', 'TinyLlama-GGUF', 'tinyllama.Q8_0.gguf'),
        bytes: 200,
        modelId: 'tinyllama.Q8_0',
      },
      { app: 'Jan', name: 'Jan-nano-4B', path: path.join(home, '.local', 'share', 'Jan', 'data', 'llamacpp', 'models', 'Jan-nano-4B', 'model.gguf'), bytes: 140, modelId: 'Jan-nano-4B' },
      { app: 'Jan', name: 'phi-2.Q4_K_M', path: path.join(home, 'jan', 'models', 'phi-2', 'phi-2.Q4_K_M.gguf'), bytes: 120, modelId: 'phi-2.Q4_K_M' },
      { app: 'Jan', name: 'SmolLM2-135M', path: path.join(home, 'JanData', 'llamacpp', 'models', 'SmolLM2-135M', 'model.gguf'), bytes: 160, modelId: 'SmolLM2-135M' },
      {
        app: 'Ollama',
        name: 'hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q8_0',
        path: path.join(ollama, `sha256-${HEX_B}`),
        bytes: 80,
        modelId: 'SmolLM2-135M-Instruct-GGUF-Q8_0',
      },
      // Both tags name one blob: offered once, under the first name.
      { app: 'Ollama', name: 'llama3.2:1b', path: path.join(ollama, `sha256-${HEX_A}`), bytes: 100, modelId: 'llama3.2-1b' },
    ])
  })

  it("looks in Ollama's store where OLLAMA_MODELS puts it instead of ~/.ollama/models", async () => {
    const found = await findGgufModels({ home, ollamaModels: path.join(home, 'nowhere') })
    assert.deepEqual(found.filter((c) => c.app === 'Ollama'), [])
  })

  it('finds nothing, without an error, in a home none of the apps has used', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'hearth-discover-empty-'))
    try {
      assert.deepEqual(await findGgufModels({ home: empty }), [])
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })
})

describe('modelLayerDigest', () => {
  it("names the model layer's blob and nothing that could leave the blobs folder", () => {
    assert.equal(modelLayerDigest(manifest(HEX_A)), HEX_A)
    assert.equal(modelLayerDigest(manifest('../../../etc/passwd')), null)
    assert.equal(modelLayerDigest(JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.adapter', digest: `sha256:${HEX_A}` }] })), null)
    assert.equal(modelLayerDigest('not json'), null)
    assert.equal(modelLayerDigest('[1, 2]'), null)
  })
})

describe('isGgufFile', () => {
  it('knows a GGUF by its first four bytes, not its name', async () => {
    assert.equal(await isGgufFile(path.join(home, '.ollama', 'models', 'blobs', `sha256-${HEX_A}`)), true)
    const fake = path.join(home, 'fake.gguf')
    await writeFile(fake, 'GGML but not GGUF')
    assert.equal(await isGgufFile(fake), false)
    await writeFile(fake, 'GG')
    assert.equal(await isGgufFile(fake), false)
    assert.equal(await isGgufFile(path.join(home, 'missing.gguf')), false)
  })
})
