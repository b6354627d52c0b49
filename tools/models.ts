// `npm run models -- …`: the model library from the command line (list, import, download, remove, fit).

import path from 'node:path'
import { parseArgs } from 'node:util'
import { AppError } from '../src-shared/errors.ts'
import type { ConversionInfo, DownloadProgress, FitEstimate, ModelSummary, VariantName } from '../src-shared/types.ts'
import { resolveDataPaths } from '../src-main/app/paths.ts'
import { fitCatalogEntry, loadCatalog } from '../src-main/models/catalog.ts'
import { formatBytes, formatDuration } from '../src-main/models/format.ts'
import { ESTIMATE_CONTEXT } from '../src-main/model-format/memory-estimate.ts'
import { systemMemory } from '../src-main/models/hardware-fit.ts'
import type { WeightPrecision } from '../src-main/models/gguf/weight-source.ts'
import { createModelLibrary, type ModelLibrary } from '../src-main/models/library.ts'

const USAGE = `Usage: npm run models -- <command> [options]

Commands:
  list                         models in the library, and unfinished downloads
  import DIR [--link]          copy (or link) a Hugging Face ONNX model folder in
  import FILE.gguf [--precision P]
                               convert a GGUF file (llama, qwen2, phi3) into a model folder;
                               P: source (default: each weight as its GGUF type allows), fp32,
                               q4, or q8 (a quarter of fp32's memory, but slower on CPUs today)
  download REPO                download a model from the Hub (resumes an unfinished one)
      [--variant V] [--revision R] [--endpoint URL]
  remove ID [--variant V]      delete a model, or one variant of it
  fit ID [--context N] [--variant V]
                               will it fit in this machine's memory?
  catalog [--context N]        the curated models and how each would fit here

Options:
  --models-dir DIR             default: HEARTH_MODELS_DIR, else the app's data folder
  --endpoint URL               Hub or mirror; default: HF_ENDPOINT, else https://huggingface.co

Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted (a download resumes next time).`

const VARIANTS: readonly VariantName[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'models-dir': { type: 'string' },
      endpoint: { type: 'string' },
      variant: { type: 'string' },
      revision: { type: 'string' },
      context: { type: 'string' },
      link: { type: 'boolean' },
      precision: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command, arg, ...extra] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return values.help ? 0 : 2
  }
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`)
  const variant = parseVariant(values.variant)
  const context = values.context === undefined ? undefined : parsePositive(values.context, '--context')
  const { modelsDir } = resolveDataPaths({ modelsDir: values['models-dir'] })
  const library = createModelLibrary({ modelsDir, endpoint: values.endpoint })
  const needArg = (what: string): string => {
    if (!arg) throw new UsageError(`${command} needs ${what}`)
    return arg
  }

  switch (command) {
    case 'list':
      return list(library)
    case 'import': {
      const source = needArg('a folder or a .gguf file')
      if (/\.gguf$/i.test(source)) return importGguf(library, source, values.precision)
      const model = await library.import(source, values.link ? 'link' : 'copy')
      console.log(`${values.link ? 'Linked' : 'Imported'} ${model.id} into ${modelsDir}`)
      printModel(model)
      return 0
    }
    case 'download':
      return download(library, needArg('a repository id (owner/name)'), variant, values.revision)
    case 'remove': {
      const id = needArg('a model id (see list)')
      const result = await library.remove(id, variant)
      const what = !variant ? id : result.removedModel ? `${id} (${variant} was its last variant)` : `${variant} of ${id}`
      console.log(`Removed ${what}; freed ${formatBytes(result.bytesFreed)}`)
      return 0
    }
    case 'fit': {
      const report = await library.fit(needArg('a model id (see list)'), { context, variant })
      for (const estimate of report.variants) console.log(fitLine(estimate))
      return 0
    }
    case 'catalog': {
      const budget = systemMemory()
      console.log(`This machine: ${formatBytes(budget.totalRam)} RAM, ${formatBytes(budget.availableRam)} available`)
      for (const entry of loadCatalog()) {
        const { chosen } = fitCatalogEntry(entry, context ?? Math.min(entry.contextLength, ESTIMATE_CONTEXT), budget)
        console.log(`${entry.repo}\n  ${fitLine(chosen)}`)
      }
      return 0
    }
    default:
      throw new UsageError(`unknown command "${command}"`)
  }
}

async function list(library: ModelLibrary): Promise<number> {
  const models = await library.list()
  if (models.length === 0) console.log(`No models in ${library.modelsDir}`)
  for (const model of models) printModel(model)
  for (const p of await library.partialDownloads()) {
    console.log(`unfinished: ${p.repo} (${p.variant}) ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}; download again to resume`)
  }
  return 0
}

const PRECISIONS: readonly WeightPrecision[] = ['source', 'fp32', 'q8', 'q4']

async function importGguf(library: ModelLibrary, file: string, precision: string | undefined): Promise<number> {
  if (precision !== undefined && !PRECISIONS.includes(precision as WeightPrecision)) {
    throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}`)
  }
  const controller = new AbortController()
  const interrupt = (): void => controller.abort()
  process.once('SIGINT', interrupt)
  const tty = process.stdout.isTTY === true
  let lastTenth = -1
  const started = Date.now()
  try {
    const model = await library.importGguf(file, {
      precision: precision as WeightPrecision | undefined,
      signal: controller.signal,
      onProgress: (done, total) => {
        const line = `converting ${path.basename(file)}: ${done}/${total} tensors`
        if (tty) process.stdout.write(`\r${line}`)
        else if (Math.floor((10 * done) / total) !== lastTenth) console.log(line)
        lastTenth = Math.floor((10 * done) / total)
      },
    })
    if (tty) process.stdout.write('\n')
    console.log(`Converted ${path.basename(file)} into ${model.id} in ${formatDuration((Date.now() - started) / 1000)}`)
    printModel(model)
    if (model.valid && model.conversion) printConversion(model.conversion)
    return 0
  } catch (err) {
    if (err instanceof AppError && err.code === 'CANCELLED') {
      console.log('\nInterrupted: nothing was imported')
      return 130
    }
    throw err
  } finally {
    process.removeListener('SIGINT', interrupt)
  }
}

function printConversion(c: ConversionInfo): void {
  const types = Object.entries(c.sourceTypes).map(([t, n]) => `${n} ${t}`).join(', ')
  console.log(`  from ${c.architecture} GGUF (${types}) as ${c.variant}: ${c.floatTensors} float, ${c.exactTensors} carried over exactly, ${c.requantizedTensors} requantized`)
  if (c.maxAbsError !== null && c.rmsError !== null) {
    console.log(`  requantization error: max ${c.maxAbsError.toPrecision(3)}, rms ${c.rmsError.toPrecision(3)}`)
  }
  for (const note of c.notes) console.log(`  note: ${note}`)
}

function printModel(model: ModelSummary): void {
  if (!model.valid) {
    console.log(`${model.id}  INVALID: ${model.reason}`)
    return
  }
  const params = model.parameters === null ? '' : `${formatCount(model.parameters)} params, `
  const variants = model.variants.map((v) => `${v.name} ${formatBytes(v.bytes)}`).join(', ')
  console.log(`${model.id}  ${model.architecture}, ${params}${model.contextLength} context  [${variants}]`)
}

async function download(library: ModelLibrary, repo: string, variant: VariantName | undefined, revision: string | undefined): Promise<number> {
  const job = await library.download({ repo, variant, revision })
  const tty = process.stdout.isTTY === true
  let lastLine = ''
  let lastKey = ''
  const show = (p: DownloadProgress): void => {
    if (p.jobId !== job.jobId) return
    const line = progressLine(p)
    // On a terminal the line rewrites itself; in a log, a line per file, state and tenth done.
    if (tty) {
      process.stdout.write(`\r${line.padEnd(lastLine.length)}`)
      lastLine = line
      return
    }
    const key = `${p.state} ${p.file} ${Math.floor((10 * p.bytesDone) / Math.max(1, p.bytesTotal))}`
    if (key !== lastKey) console.log(line)
    lastKey = key
  }
  library.on('download', show)
  const interrupt = (): void => void library.cancelDownload(job.jobId, { keepPartial: true })
  process.once('SIGINT', interrupt)
  const result = await library.waitForDownload(job.jobId)
  process.removeListener('SIGINT', interrupt)
  if (tty) process.stdout.write('\n')
  if (result.state === 'done') {
    console.log(`Installed ${result.modelId} (${result.variant}) in ${library.modelsDir}`)
    return 0
  }
  if (result.state === 'cancelled') {
    console.error(`Stopped. Run the same command again to resume ${repo}.`)
    return 130
  }
  console.error(`error: ${result.error?.message ?? 'the download failed'}`)
  return 1
}

function progressLine(p: DownloadProgress): string {
  if (p.state !== 'downloading') return `${p.state} ${p.repo} (${p.variant})`
  const percent = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 0
  const rate = p.bytesPerSecond > 0 ? `  ${formatBytes(p.bytesPerSecond)}/s` : ''
  const eta = p.etaSeconds === null ? '' : `  ETA ${formatDuration(p.etaSeconds)}`
  return `${p.state} ${p.file ?? p.repo} ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} ${percent}%${rate}${eta}`
}

function fitLine(e: FitEstimate): string {
  const verdict = { fits: 'fits', tight: 'tight', 'wont-fit': "won't fit" }[e.verdict]
  return `${e.variant}: ${verdict} at ${e.context} context in ${e.device === 'gpu' ? 'GPU memory' : 'RAM'} (${formatBytes(e.totalBytes)}: weights ${formatBytes(e.weightsBytes)}, KV ${formatBytes(e.kvBytes)}, overhead ${formatBytes(e.overheadBytes)}); fits up to ${e.maxContext} context`
}

function formatCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${Math.round(n / 1e6)}M` : `${Math.round(n / 1e3)}K`
}

function parseVariant(value: string | undefined): VariantName | undefined {
  if (value === undefined) return undefined
  const found = VARIANTS.find((v) => v === value)
  if (!found) throw new UsageError(`--variant must be one of ${VARIANTS.join(', ')}`)
  return found
}

function parsePositive(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive whole number`)
  return n
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${err.message}\n\n${USAGE}`)
      process.exitCode = 2
    } else {
      console.error(`error: ${AppError.toData(err).message}`)
      process.exitCode = 1
    }
  },
)
