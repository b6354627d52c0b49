// sseData: event payloads from a byte stream however it is cut into chunks.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { sseData } from '../../../src-main/remote/sse.ts'

async function collect(chunks: (string | Uint8Array)[]): Promise<string[]> {
  const bytes = async function* (): AsyncGenerator<Uint8Array> {
    for (const c of chunks) yield typeof c === 'string' ? new TextEncoder().encode(c) : c
  }
  const out: string[] = []
  for await (const data of sseData(bytes())) out.push(data)
  return out
}

const STREAM = ': comment\r\ndata: {"a":1}\r\n\r\nevent: x\ndata: line one\ndata: line two\n\ndata:[DONE]\n\n'

describe('sseData', () => {
  it('yields each event, joining its data lines, skipping comments and other fields', async () => {
    assert.deepEqual(await collect([STREAM]), ['{"a":1}', 'line one\nline two', '[DONE]'])
  })

  it('gives the same events for every way of cutting the bytes, inside a character or a CRLF', async () => {
    const bytes = new TextEncoder().encode(STREAM.replace('line one', 'línea ☕ one'))
    const whole = await collect([bytes])
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(await collect([bytes.slice(0, cut), bytes.slice(cut)]), whole, `cut at ${cut}`)
    }
    assert.equal(whole[1], 'línea ☕ one\nline two')
  })

  it('yields a last event that the stream ended without a blank line', async () => {
    assert.deepEqual(await collect(['data: end']), ['end'])
  })
})
