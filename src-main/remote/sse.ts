// Server-sent events from a byte stream: the `data:` payload of each event, in order.

/**
 * Yields each event's data (its `data:` lines joined by newlines). Comments (`:`), `event:`,
 * `id:` and `retry:` fields carry nothing an OpenAI stream needs and are skipped.
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffer = ''
  let data: string[] = []
  const lines = function* (text: string): Generator<string> {
    buffer += text
    let end: number
    while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, end)
      // A lone \r at the end of the buffer may be half of \r\n: wait for the next chunk.
      if (buffer[end] === '\r' && end === buffer.length - 1) return
      buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1))
      yield line
    }
  }
  for await (const chunk of body) {
    for (const line of lines(decoder.decode(chunk, { stream: true }))) {
      if (line === '') {
        if (data.length > 0) yield data.join('\n')
        data = []
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5))
      }
    }
  }
  for (const line of lines(decoder.decode() + '\n')) {
    if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5))
  }
  if (data.length > 0) yield data.join('\n')
}
