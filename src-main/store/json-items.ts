// A large JSON text read item by item, so that a big file is parsed piece by piece between turns
// of the event loop instead of by one JSON.parse that holds the process for a second or more.
// [TAG_JSON_ITEMS] The cursor checks the structure between items (brackets, commas, colons, keys)
// and finds where each value ends; JSON.parse then reads every value it is asked for, checking
// every character inside it. A value skipped over is only scanned, so it must be parsed later
// (parseSpan) for the text to have been checked whole.

/** Where a piece of the text lies: [start, end). */
export interface Span {
  start: number
  end: number
}

export class JsonSyntaxError extends Error {
  constructor(problem: string, at: number) {
    super(`${problem} at character ${at}`)
    this.name = 'JsonSyntaxError'
  }
}

/** JSON.parse of one value, its errors placed in the whole text. */
export function parseSpan(text: string, span: Span): unknown {
  try {
    return JSON.parse(text.slice(span.start, span.end))
  } catch (err) {
    throw new JsonSyntaxError((err as Error).message, span.start)
  }
}

export class JsonCursor {
  readonly text: string
  #at = 0
  /** The containers entered and not yet left: their closing bracket, and whether an item was read. */
  readonly #open: { closer: ']' | '}'; items: number }[] = []

  constructor(text: string) {
    this.text = text
  }

  /** The first character of the value at the cursor ('[', '{', '"', a digit…); '' at the end. */
  peek(): string {
    this.#at = skipSpace(this.text, this.#at)
    return this.text.charAt(this.#at)
  }

  /** Steps into the array or object at the cursor; next() then walks its items. */
  enter(): void {
    const c = this.peek()
    if (c !== '[' && c !== '{') throw new JsonSyntaxError('Expected [ or {', this.#at)
    this.#open.push({ closer: c === '[' ? ']' : '}', items: 0 })
    this.#at += 1
  }

  /**
   * Moves to the next item of the container entered last, leaving the cursor at its value, and
   * returns its key (null in an array); at the container's end, moves past it and returns false.
   */
  next(): { key: string | null } | false {
    const container = this.#open.at(-1)
    if (container === undefined) throw new Error('next() outside a container')
    const c = this.peek()
    if (c === container.closer && container.items === 0) return this.#leave()
    if (container.items > 0) {
      if (c === container.closer) return this.#leave()
      if (c !== ',') throw new JsonSyntaxError(`Expected , or ${container.closer}`, this.#at)
      this.#at += 1
    }
    container.items += 1
    if (container.closer === ']') return { key: null }
    if (this.peek() !== '"') throw new JsonSyntaxError('Expected a "key"', this.#at)
    const keyEnd = stringEnd(this.text, this.#at)
    const key = parseSpan(this.text, { start: this.#at, end: keyEnd }) as string
    this.#at = keyEnd
    if (this.peek() !== ':') throw new JsonSyntaxError('Expected :', this.#at)
    this.#at += 1
    return { key }
  }

  /** Moves past the value at the cursor, scanning it only: see [TAG_JSON_ITEMS]. */
  skip(): Span {
    const start = skipSpace(this.text, this.#at)
    this.#at = valueEnd(this.text, start)
    return { start, end: this.#at }
  }

  /** The value at the cursor, parsed; the cursor moves past it. */
  value(): unknown {
    return parseSpan(this.text, this.skip())
  }

  /** After the outermost value: nothing but whitespace may follow. */
  end(): void {
    if (this.#open.length > 0) throw new Error('end() inside a container')
    if (this.peek() !== '') throw new JsonSyntaxError('Unexpected text after the end', this.#at)
  }

  #leave(): false {
    this.#open.pop()
    this.#at += 1
    return false
  }
}

/** The index of the first character that is not JSON whitespace, at or after `from`. */
function skipSpace(text: string, from: number): number {
  let at = from
  for (let c = text.charCodeAt(at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(at)) at += 1
  return at
}

/** Just past the value that starts at `start`; brackets are counted, not matched (JSON.parse does that). */
function valueEnd(text: string, start: number): number {
  const c = text[start]
  if (c === '"') return stringEnd(text, start)
  if (c !== '[' && c !== '{') {
    // A number or a literal: it ends where structure or whitespace begins.
    const end = /[,:[\]{}"\s]|$/g
    end.lastIndex = start
    const at = end.exec(text)?.index ?? text.length
    if (at === start) throw new JsonSyntaxError('Expected a value', start)
    return at
  }
  const structure = /["[\]{}]/g
  structure.lastIndex = start + 1
  for (let depth = 1; ; ) {
    const found = structure.exec(text)
    if (found === null) throw new JsonSyntaxError('Unexpected end of text', text.length)
    const b = found[0]
    if (b === '"') structure.lastIndex = stringEnd(text, found.index)
    else if (b === '[' || b === '{') depth += 1
    else if (--depth === 0) return found.index + 1
  }
}

/** Just past the quote that closes the string opening at `open`. */
function stringEnd(text: string, open: number): number {
  for (let from = open + 1; ; ) {
    const quote = text.indexOf('"', from)
    if (quote === -1) throw new JsonSyntaxError('Unterminated string', open)
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes += 1
    if (backslashes % 2 === 0) return quote + 1
    from = quote + 1
  }
}
