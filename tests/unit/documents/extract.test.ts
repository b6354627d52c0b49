// Reading attached files: each format's text and the files Hearth refuses, read in this process
// (readDocument, fast); then the reader's own process: answers and refusals crossing, progress,
// main's loop kept free, and a cancel that leaves no process behind. Every input is generated here.

import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import { DocumentExtractor, forkExtractor, type ExtractorSpawner } from '../../../src-main/documents/extract.ts'
import { readDocument } from '../../../src-main/documents/read-document.ts'
import { writeDocx, writePdf, writeZip } from './fixtures-documents.ts'

/** Every reader process the tests start, with the messages it sent: none may outlive its read. */
const readers: { pid: number; messages: string[]; exited: Promise<void> }[] = []
const spawn: ExtractorSpawner = (entry) => {
  const child = forkExtractor(entry)
  const reader = { pid: child.pid!, messages: [] as string[], exited: new Promise<void>((resolve) => child.onExit(() => resolve())) }
  readers.push(reader)
  return {
    ...child,
    onMessage: (handler) => child.onMessage((message) => {
      reader.messages.push(message.type === 'progress' ? `${message.done}/${message.total}` : message.type)
      handler(message)
    }),
  }
}
// No spare process here: each read's process is the last one started (the spare is tested on its own).
const extractor = new DocumentExtractor({ spawn, spareIdleMs: 0 })
after(() => extractor.close())

const read = (content: string | Buffer, name: string) => readDocument(Buffer.from(content), name, () => {})

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function refusal(promise: Promise<unknown>, code: AppError['code'], message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AppError, `not an AppError: ${String(err)}`)
    assert.equal(err.code, code)
    assert.match(err.message, message)
    return true
  })
}

const manyPages = (count: number) => Array.from({ length: count }, (_, i) => [`Page ${i + 1} begins here.`, `It ends with line ${i + 1}.`])

describe('readDocument: text files', () => {
  it('reads Markdown, dropping a UTF-8 BOM and making every line break \\n', async () => {
    const doc = await read(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('# Title\r\nbody\rend\n')]), 'notes.md')
    assert.deepEqual(doc, { kind: 'markdown', mimeType: 'text/markdown', text: '# Title\nbody\nend\n', pages: null })
  })

  it('reads UTF-16 with a byte order mark, little- and big-endian', async () => {
    const text = 'Grüße, 世界 — ok\n'
    const le = await read(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), 'le.txt')
    assert.equal(le.text, text)
    const be = Buffer.from(text, 'utf16le').swap16()
    assert.equal((await read(Buffer.concat([Buffer.from([0xfe, 0xff]), be]), 'be.txt')).text, text)
  })

  it('names source code, CSV and TSV by extension, with their media types', async () => {
    assert.deepEqual(await read('const a = 1\n', 'index.js'), { kind: 'code', mimeType: 'text/javascript', text: 'const a = 1\n', pages: null })
    assert.equal((await read('fn main() {}\n', 'main.rs')).kind, 'code')
    assert.equal((await read('all:\n\tcc x.c\n', 'Makefile')).kind, 'code')
    assert.deepEqual(await read('a,b\n1,2\n', 'data.csv'), { kind: 'csv', mimeType: 'text/csv', text: 'a,b\n1,2\n', pages: null })
    assert.equal((await read('a\tb\n1\t2\n', 'data.tsv')).kind, 'tsv')
    assert.deepEqual(await read('plain words', 'readme'), { kind: 'text', mimeType: 'text/plain', text: 'plain words', pages: null })
  })

  it('calls JSON json only when it parses, keeping the text as it was', async () => {
    assert.deepEqual(await read('{ "a": [1, 2] }', 'x.json'), { kind: 'json', mimeType: 'application/json', text: '{ "a": [1, 2] }', pages: null })
    assert.deepEqual(await read('{ "a": [1, 2', 'broken.json'), { kind: 'text', mimeType: 'text/plain', text: '{ "a": [1, 2', pages: null })
  })

  it('reads a legacy Windows-1252 file as such, but keeps UTF-8 with one stray byte as UTF-8', async () => {
    const legacy = Buffer.from([0x93, ...Buffer.from('caf'), 0xe9, 0x94, 0x20, 0x80, 0x35])
    assert.equal((await read(legacy, 'menu.txt')).text, '“café” €5')
    const cut = Buffer.concat([Buffer.from('日本語のテキスト'), Buffer.from([0xe6])])
    assert.equal((await read(cut, 'cut.txt')).text, '日本語のテキスト\uFFFD')
  })
})

describe('readDocument: HTML', () => {
  it('keeps the words and drops scripts, styles, link targets and images', async () => {
    const html = '<!doctype html><html><head><style>p { color: red }</style><script>var secret = 1</script></head>' +
      '<body><h1>Report</h1><p>See <a href="https://example.com">the site</a>.</p><img src="x.png"><script>alert("hi")</script></body></html>'
    const doc = await read(html, 'page.html')
    assert.equal(doc.kind, 'html')
    assert.equal(doc.mimeType, 'text/html')
    assert.match(doc.text, /^Report\n+See the site\.$/)
    assert.doesNotMatch(doc.text, /secret|alert|color|example\.com|x\.png/)
  })

  it('reads an HTML page by its content under another name', async () => {
    const doc = await read('<!DOCTYPE html>\n<html><body><p>Hello</p><script>x()</script></body></html>', 'saved.txt')
    assert.deepEqual([doc.kind, doc.text], ['html', 'Hello'])
  })
})

describe('readDocument: PDF', () => {
  it('reads the text layer page by page, joining pages with a blank line', async () => {
    const pdf = writePdf({ pages: [['Hello world', 'second line'], ['Page (two)']] })
    const progress: { done: number; total: number }[] = []
    const doc = await readDocument(pdf, 'two.pdf', (done, total) => progress.push({ done, total }))
    assert.deepEqual(doc, { kind: 'pdf', mimeType: 'application/pdf', text: 'Hello world\nsecond line\n\nPage (two)', pages: 2 })
    assert.deepEqual(progress, [{ done: 0, total: 2 }, { done: 1, total: 2 }, { done: 2, total: 2 }])
  })

  it('reads a PDF by its header whatever its name', async () => {
    const doc = await read(writePdf({ pages: [['Renamed']] }), 'report.txt')
    assert.deepEqual([doc.kind, doc.text, doc.pages], ['pdf', 'Renamed', 1])
  })

  it('refuses pages without a text layer, naming OCR', async () => {
    await refusal(read(writePdf({ pages: [[], []] }), 'scan.pdf'), 'DOCUMENT_INVALID', /^scan\.pdf has no text layer \(a scan\?\); Hearth does not do OCR/)
  })

  it('refuses a PDF that needs a password', async () => {
    await refusal(read(writePdf({ pages: [['secret']], encrypted: true }), 'locked.pdf'), 'DOCUMENT_INVALID', /^locked\.pdf is password-protected/)
  })

  it('refuses garbage after the PDF header', async () => {
    await refusal(read('%PDF-1.7\nthis is not a pdf at all', 'bad.pdf'), 'DOCUMENT_INVALID', /^bad\.pdf could not be read as a PDF/)
  })
})

describe('readDocument: DOCX', () => {
  it('reads the paragraphs of a Word document', async () => {
    const doc = await read(writeDocx(['First paragraph & more', 'Second one']), 'letter.docx')
    assert.deepEqual(doc, {
      kind: 'docx',
      mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      text: 'First paragraph & more\n\nSecond one\n\n',
      pages: null,
    })
  })

  it('reads a Word document by its content under another name', async () => {
    const doc = await read(writeDocx(['Only paragraph']), 'letter.bin')
    assert.deepEqual([doc.kind, doc.text], ['docx', 'Only paragraph\n\n'])
  })

  it('refuses a .docx zip without a document in it', async () => {
    await refusal(read(writeZip({ 'notes.txt': 'hello' }), 'fake.docx'), 'DOCUMENT_INVALID', /^fake\.docx could not be read as a Word document/)
  })
})

describe('readDocument: refusals', () => {
  it('refuses binary bytes, saying what Hearth reads', async () => {
    // Every byte value but NUL: no NUL to give it away, only control characters.
    const noNul = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i % 255) + 1))
    await refusal(read(noNul, 'photo.txt'), 'DOCUMENT_INVALID', /^photo\.txt looks like a binary file, not text: Hearth reads text, Markdown, code/)
    await refusal(read(writeZip({ 'a.txt': 'hi' }), 'archive.zip'), 'DOCUMENT_INVALID', /binary/)
    await refusal(read(Buffer.from([0x41, 0, 0x42]), 'nul.txt'), 'DOCUMENT_INVALID', /binary/)
  })

  it('refuses an empty file and one of only whitespace', async () => {
    await refusal(read('', 'empty.txt'), 'DOCUMENT_INVALID', /^empty\.txt is empty\.$/)
    await refusal(read(' \r\n\t\n', 'blank.md'), 'DOCUMENT_INVALID', /^blank\.md is empty\.$/)
  })
})

// A read that never settles fails after the timeout instead of hanging the run.
describe('DocumentExtractor: the reader process', { timeout: 60_000 }, () => {
  it('answers with the text, reporting progress in order from the start to the total', async () => {
    const progress: { done: number; total: number }[] = []
    const doc = await extractor.extract(Buffer.from('some text\r\n'), 'a.md', { onProgress: (p) => progress.push(p) })
    assert.deepEqual(doc, { kind: 'markdown', mimeType: 'text/markdown', text: 'some text\n', pages: null })
    assert.deepEqual(progress, [{ done: 0, total: 1 }, { done: 1, total: 1 }])
  })

  it('passes a refusal on as the AppError it was', async () => {
    await refusal(extractor.extract(Buffer.from([1, 2, 3, 0, 4]), 'x.bin'), 'DOCUMENT_INVALID', /^x\.bin looks like a binary file/)
  })

  it('reads a 300-page PDF whole, a progress report per page', async () => {
    const progress: string[] = []
    const doc = await extractor.extract(writePdf({ pages: manyPages(300) }), 'long.pdf', { onProgress: ({ done, total }) => progress.push(`${done}/${total}`) })
    assert.deepEqual(progress, Array.from({ length: 301 }, (_, i) => `${i}/300`))
    assert.equal(doc.pages, 300)
    assert.match(doc.text, /^Page 1 begins here\.\nIt ends with line 1\.\n\nPage 2 begins/)
    assert.match(doc.text, /\n\nPage 300 begins here\.\nIt ends with line 300\.$/)
  })

  it('keeps main\'s event loop turning while a 32 MiB file is read', async () => {
    const line = 'a line of a very long log file, read in another process\n'
    const text = line.repeat(Math.floor(32 * 2 ** 20 / line.length))
    // The longest gap between ticks is main's longest stall: reading on main would be one stall
    // as long as the whole read; in the reader's process only the copies of bytes and text are.
    let last = performance.now()
    let longest = 0
    const timer = setInterval(() => {
      longest = Math.max(longest, performance.now() - last)
      last = performance.now()
    }, 1)
    const started = performance.now()
    const doc = await extractor.extract(Buffer.from(text), 'big.log').finally(() => clearInterval(timer))
    const took = performance.now() - started
    assert.equal(doc.text.length, text.length)
    assert.ok(longest < took / 2, `main stalled ${longest.toFixed(0)} ms of a ${took.toFixed(0)} ms read`)
  })

  it('ends the process mid-read on cancel, rejecting CANCELLED once it has gone', async () => {
    const controller = new AbortController()
    const reading = extractor.extract(writePdf({ pages: manyPages(3000) }), 'huge.pdf', {
      signal: controller.signal,
      onProgress: ({ done }) => done === 5 && controller.abort(),
    })
    const reader = readers.at(-1)!
    await refusal(reading, 'CANCELLED', /huge\.pdf was cancelled/)
    assert.equal(isRunning(reader.pid), false, 'the reader process is still running')
    // Progress already in the pipe may still arrive; the end of the read may not.
    assert.ok(!reader.messages.includes('done'), 'the read ran to its end')
  })

  it('refuses an already aborted read without starting a process', async () => {
    const before = readers.length
    await refusal(extractor.extract(Buffer.from('x'), 'a.txt', { signal: AbortSignal.abort() }), 'CANCELLED', /a\.txt was cancelled/)
    assert.equal(readers.length, before)
  })

  it('close() ends reads still running, which reject CANCELLED', async () => {
    const own = new DocumentExtractor({ spawn, spareIdleMs: 0 })
    const reading = own.extract(writePdf({ pages: manyPages(3000) }), 'big.pdf')
    const reader = readers.at(-1)!
    await own.close()
    assert.equal(isRunning(reader.pid), false)
    await refusal(reading, 'CANCELLED', /big\.pdf was cancelled/)
    assert.ok(!reader.messages.includes('done'), 'the read ran to its end')
  })

  it('leaves no reader process behind once each read has answered', () => {
    assert.ok(readers.length >= 6)
    assert.deepEqual(readers.filter((r) => isRunning(r.pid)), [])
  })
})

describe('DocumentExtractor: a process kept ready for the next file', { timeout: 60_000 }, () => {
  it('starts one once a file is read, reads the next file with it, and ends it on close', async () => {
    const own = new DocumentExtractor({ spawn, spareIdleMs: 60_000 })
    const first = readers.length
    assert.equal((await own.extract(Buffer.from('one'), 'one.txt')).text, 'one')
    assert.equal(readers.length, first + 2, 'the reader and a spare')
    const spare = readers.at(-1)!
    assert.ok(isRunning(spare.pid))
    assert.equal(spare.messages.length, 0)
    assert.equal((await own.extract(Buffer.from('two'), 'two.txt')).text, 'two')
    assert.ok(spare.messages.includes('done'), 'the spare read the second file')
    assert.equal(readers.length, first + 3, 'and a new spare waits')
    const next = readers.at(-1)!
    await own.close()
    await next.exited
    assert.equal(isRunning(next.pid), false)
    // Closed: no spare is started again.
    assert.equal(readers.length, first + 3)
  })

  it('starts the spare at once when asked, and the first file is read by it', async () => {
    const before = readers.length
    const own = new DocumentExtractor({ spawn, spareIdleMs: 60_000, readyAtStart: true })
    assert.equal(readers.length, before + 1)
    const ready = readers.at(-1)!
    assert.equal((await own.extract(Buffer.from('first'), 'first.txt')).text, 'first')
    assert.ok(ready.messages.includes('done'))
    await own.close()
  })

  it('reads with a new process when the spare has died, and ends a spare left idle', async () => {
    const own = new DocumentExtractor({ spawn, spareIdleMs: 60_000 })
    await own.extract(Buffer.from('one'), 'one.txt')
    const spare = readers.at(-1)!
    process.kill(spare.pid, 'SIGKILL')
    await spare.exited
    assert.equal((await own.extract(Buffer.from('two'), 'two.txt')).text, 'two')
    assert.deepEqual(spare.messages, [])
    await own.close()

    const idle = new DocumentExtractor({ spawn, spareIdleMs: 50 })
    await idle.extract(Buffer.from('three'), 'three.txt')
    const waiting = readers.at(-1)!
    await waiting.exited
    assert.deepEqual(waiting.messages, [], 'ended unused')
    assert.equal((await idle.extract(Buffer.from('four'), 'four.txt')).text, 'four')
    await idle.close()
  })
})
