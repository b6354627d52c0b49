// Drafts from the text itself (prompt lookup decoding): a reply often repeats what is already there
// (code being edited, names, quoted passages, its own earlier lines), so the tokens that followed
// an earlier occurrence of the reply's last few tokens are a guess that costs no model pass.
//
// Two texts are searched. The prediction, when a caller sends one (the API's Predicted Outputs:
// typically a file an editor asks to have rewritten with a few changes), comes first: the reply is
// expected to copy it, so the drafter keeps a cursor on where the reply is in it. The context (the
// prompt and the reply so far) comes next. Either search takes the longest suffix of the context,
// maxNgram tokens down to minNgram, with an earlier occurrence.
//
// Defaults: n-grams of 4 down to 2. Longer suffixes only make a match more specific and cost one
// hash look-up each (llama.cpp's lookup decoding goes up to 4, vLLM's examples use 4; Hugging
// Face's prompt lookup stops at 2). A single token is not searched: in a long context nearly every
// token has occurred before, so a 1-gram "match" drafts after every step and mostly misses, and
// each miss counts against drafting as a whole (draft-length.ts backs off), good drafts included.

const DEFAULT_MAX_NGRAM = 4
const DEFAULT_MIN_NGRAM = 2
/** Hash-chain links followed past collisions before giving up; collisions are rare at 30 bits. */
const MAX_CHAIN = 16
/** Prediction tokens indexed (far beyond any context): SortedEnds packs an end into 23 bits. */
const MAX_PREDICTION = 2 ** 23

export interface PromptLookupOptions {
  /** The prompt as fed, and any reply tokens after it. */
  context: readonly number[]
  /** Where the reply starts in `context`. */
  replyStart: number
  /** Tokens the reply is expected to follow closely (the API's prediction): searched first. */
  prediction?: readonly number[]
  /** Longest suffix matched (default 4). */
  maxNgram?: number
  /** Shortest suffix matched (default 2). */
  minNgram?: number
}

export interface LookupDraft {
  tokens: number[]
  source: 'prediction' | 'lookup'
}

/**
 * The context and the prediction, with their n-grams indexed in hash maps so that a draft costs a
 * few look-ups whatever the length of the text.
 *
 * [TAG_LOOKUP_INDEX] The context's index for n holds, for each n-gram, the end (exclusive) of its
 * latest occurrence that has a token after it, i.e. an end e < length. The n-gram ending at e is
 * indexed when the token at e is pushed, so the context's own suffix is never its own match, and a
 * chain per position links each entry to the one it shadowed, so truncate() restores exactly the
 * index the shorter context had.
 */
export class PromptLookup {
  private readonly minNgram: number
  private readonly maxNgram: number
  private tokens: Int32Array // [capacity] the context, [0, length) in use
  private length = 0
  private replyStart: number
  /** [maxNgram - minNgram + 1] per n: hash of an n-gram -> its latest end (TAG_LOOKUP_INDEX). */
  private readonly latest: EndTable[]
  /** Per n: [capacity] the end the entry at each end shadowed, -1 for none. */
  private chains: Int32Array[]

  private readonly prediction: Int32Array
  /** Per n: the prediction's n-grams that have a token after them. */
  private readonly predictionEnds: SortedEnds[]
  /**
   * Where the reply is in the prediction: the index of the prediction token expected next, -1 when
   * the reply has left it. While every pushed token equals the prediction's next one the cursor
   * just steps on, so copying the prediction costs O(1) per token with no search at all.
   */
  private cursor: number
  /** Where the cursor was when the reply left the prediction: a search resumes at or after it. */
  private hint = 0
  /** The context's length and the cursor when the cursor was last placed; it has stepped since. */
  private anchorLength = 0
  private anchorCursor = 0

  constructor(opts: PromptLookupOptions) {
    this.maxNgram = opts.maxNgram ?? DEFAULT_MAX_NGRAM
    this.minNgram = Math.min(opts.minNgram ?? DEFAULT_MIN_NGRAM, this.maxNgram)
    if (!(this.minNgram >= 1)) throw new RangeError('PromptLookup needs n-grams of at least one token')
    const sizes = this.maxNgram - this.minNgram + 1
    const capacity = Math.max(1024, opts.context.length * 2)
    this.tokens = new Int32Array(capacity)
    this.latest = Array.from({ length: sizes }, () => new EndTable(capacity))
    this.chains = Array.from({ length: sizes }, () => new Int32Array(capacity))
    this.replyStart = Math.min(Math.max(0, opts.replyStart), opts.context.length)

    this.prediction = Int32Array.from((opts.prediction ?? []).slice(0, MAX_PREDICTION))
    this.predictionEnds = Array.from({ length: sizes }, (_, i) => new SortedEnds(this.prediction, this.minNgram + i))
    this.cursor = this.prediction.length > 0 ? 0 : -1
    this.anchorLength = this.replyStart

    for (let i = 0; i < opts.context.length; i++) {
      this.append(opts.context[i]!)
      if (i >= this.replyStart) this.follow(opts.context[i]!)
    }
  }

  /** A token the reply now has: the next draft is for the tokens after it. */
  push(token: number): void {
    this.append(token)
    this.follow(token)
  }

  /** Cuts the context back to its first `length` tokens, as if the rest had never been pushed. */
  truncate(length: number): void {
    if (length >= this.length) return
    const target = Math.max(0, length)
    for (let e = this.length - 1; e >= target; e--) {
      for (let n = this.minNgram; n <= this.maxNgram && n <= e; n++) {
        this.latest[n - this.minNgram]!.set(hash(this.tokens, e - n, n), this.chains[n - this.minNgram]![e]!)
      }
    }
    this.length = target
    this.replyStart = Math.min(this.replyStart, target)
    // The cursor has stepped once per token since it was placed: cut back to no earlier than
    // that, it steps back as many; earlier, the next draft searches from about where it was.
    if (this.cursor >= 0 && target >= this.anchorLength) {
      this.cursor = this.anchorCursor + (target - this.anchorLength)
    } else if (this.cursor >= 0) {
      this.hint = Math.max(0, this.anchorCursor - (this.anchorLength - target))
      this.cursor = -1
    }
  }

  /**
   * Up to `k` tokens expected after the context; null when nothing matches. The prediction is
   * tried first: at the cursor, else by searching its n-grams (which puts the cursor back), else,
   * while the reply is shorter than minNgram tokens and so has no suffix of its own to match, at
   * the reply's length (as if the reply had followed the prediction from its start).
   */
  draft(k: number): LookupDraft | null {
    if (!(k >= 1)) return null
    const pred = this.prediction
    if (pred.length > 0) {
      if (this.cursor < 0) this.place(this.findInPrediction())
      const replyLength = this.length - this.replyStart
      if (this.cursor < 0 && replyLength < this.minNgram && replyLength < pred.length) this.place(replyLength)
      if (this.cursor >= 0 && this.cursor < pred.length) {
        const tokens: number[] = []
        for (let i = this.cursor; i < Math.min(pred.length, this.cursor + k); i++) tokens.push(pred[i]!)
        return { tokens, source: 'prediction' }
      }
    }
    const end = this.findInContext()
    if (end < 0) return null
    // The tokens after the match; a match close to the end runs into the draft itself, as a
    // repeat that overlaps itself does ("a b a b" after "a b" drafts "a b a b ...").
    const tokens: number[] = []
    for (let j = 0; j < k; j++) {
      const from = end + j
      tokens.push(from < this.length ? this.tokens[from]! : tokens[from - this.length]!)
    }
    return { tokens, source: 'lookup' }
  }

  private append(token: number): void {
    const e = this.length
    if (e === this.tokens.length) this.grow()
    this.tokens[e] = token
    this.length = e + 1
    // The n-grams ending at e now have a token after them (TAG_LOOKUP_INDEX).
    for (let n = this.minNgram; n <= this.maxNgram && n <= e; n++) {
      const table = this.latest[n - this.minNgram]!
      const h = hash(this.tokens, e - n, n)
      this.chains[n - this.minNgram]![e] = table.get(h)
      table.set(h, e)
    }
  }

  private grow(): void {
    const capacity = this.tokens.length * 2
    const tokens = new Int32Array(capacity)
    tokens.set(this.tokens)
    this.tokens = tokens
    this.chains = this.chains.map((chain) => {
      const grown = new Int32Array(capacity)
      grown.set(chain)
      return grown
    })
  }

  private place(cursor: number): void {
    this.cursor = cursor
    this.anchorLength = this.length
    this.anchorCursor = cursor
  }

  /** Moves the cursor past a reply token, or drops it where the reply leaves the prediction. */
  private follow(token: number): void {
    if (this.cursor < 0) return
    if (this.cursor < this.prediction.length && this.prediction[this.cursor] === token) {
      this.cursor++
      return
    }
    this.hint = this.cursor
    this.cursor = -1
  }

  /**
   * The end of the prediction's occurrence of the context's longest matching suffix: the first
   * that starts at or after the hint (whatever the edit, the reply's tokens since it left the
   * prediction belong at or after where it left), else the last before; -1 when none.
   */
  private findInPrediction(): number {
    for (let n = this.maxNgram; n >= this.minNgram; n--) {
      if (this.length < n) continue
      const index = this.predictionEnds[n - this.minNgram]!
      const first = index.first(hash(this.tokens, this.length - n, n))
      if (first < 0) continue
      const last = first + index.runs[first]!
      const ends = index.ends
      let lo = first
      let hi = last
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (ends[mid]! - n < this.hint) lo = mid + 1
        else hi = mid
      }
      for (let i = lo; i < last; i++) if (this.suffixEndsAt(this.prediction, ends[i]!, n)) return ends[i]!
      for (let i = lo - 1; i >= first; i--) if (this.suffixEndsAt(this.prediction, ends[i]!, n)) return ends[i]!
    }
    return -1
  }

  /** The end of the latest earlier occurrence of the context's longest matching suffix; -1 when none. */
  private findInContext(): number {
    for (let n = this.maxNgram; n >= this.minNgram; n--) {
      if (this.length <= n) continue
      const chain = this.chains[n - this.minNgram]!
      let e = this.latest[n - this.minNgram]!.get(hash(this.tokens, this.length - n, n))
      for (let links = 0; e >= 0 && links < MAX_CHAIN; links++, e = chain[e]!) {
        if (this.suffixEndsAt(this.tokens, e, n)) return e
      }
    }
    return -1
  }

  /** Whether `text`[end - n, end) equals the context's last n tokens. */
  private suffixEndsAt(text: Int32Array, end: number, n: number): boolean {
    for (let i = 1; i <= n; i++) if (text[end - i] !== this.tokens[this.length - i]) return false
    return true
  }
}

/**
 * Hash -> end, by open addressing over typed arrays: filled for a long prompt at every new reply,
 * it is a few times faster than a Map. Keys are never removed: truncate() sets an end of -1.
 */
class EndTable {
  private keys: Int32Array // [slots] a hash, -1 for a free slot
  private ends: Int32Array // [slots]
  private used = 0

  constructor(entries: number) {
    let slots = 1024
    while (slots < entries * 2) slots *= 2
    this.keys = new Int32Array(slots).fill(-1)
    this.ends = new Int32Array(slots)
  }

  /** The end stored for `h`, -1 for none. */
  get(h: number): number {
    const mask = this.keys.length - 1
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const key = this.keys[i]!
      if (key === h) return this.ends[i]!
      if (key === -1) return -1
    }
  }

  set(h: number, end: number): void {
    const mask = this.keys.length - 1
    let i = h & mask
    for (; ; i = (i + 1) & mask) {
      const key = this.keys[i]!
      if (key === h) break
      if (key === -1) {
        this.keys[i] = h
        this.used++
        break
      }
    }
    this.ends[i] = end
    // At most half full, so a probe ends within a few slots.
    if (this.used * 2 > this.keys.length) this.rehash()
  }

  private rehash(): void {
    const { keys, ends } = this
    this.keys = new Int32Array(keys.length * 2).fill(-1)
    this.ends = new Int32Array(keys.length * 2)
    this.used = 0
    for (let i = 0; i < keys.length; i++) if (keys[i]! !== -1) this.set(keys[i]!, ends[i]!)
  }
}

/** A fixed text's n-grams that have a token after them: each hash's ends, ascending, in one run. */
class SortedEnds {
  readonly ends: Int32Array // [count] grouped by hash, ascending within a group
  /** [count] at the index of a run's first end: the run's length. */
  readonly runs: Int32Array
  private readonly starts: EndTable // hash -> index of its run's first end

  constructor(text: Int32Array, n: number) {
    const count = Math.max(0, text.length - n)
    // (hash, end) pairs as one number each (30 + 23 bits), so one native sort groups them.
    const keys = new Float64Array(count)
    for (let e = n; e < text.length; e++) keys[e - n] = hash(text, e - n, n) * MAX_PREDICTION + e
    keys.sort()
    this.ends = new Int32Array(count)
    this.runs = new Int32Array(count)
    this.starts = new EndTable(count)
    let start = -1
    let previous = -1
    for (let i = 0; i < count; i++) {
      const h = Math.floor(keys[i]! / MAX_PREDICTION)
      this.ends[i] = keys[i]! - h * MAX_PREDICTION
      if (h !== previous) {
        start = i
        previous = h
        this.starts.set(h, i)
      }
      this.runs[start] = this.runs[start]! + 1
    }
  }

  /** The index of the first end of hash h's run; -1 for none. */
  first(h: number): number {
    return this.starts.get(h)
  }
}

/** A 30-bit hash of text[start, start + n): never -1, the free slot's key. */
function hash(text: Int32Array, start: number, n: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < start + n; i++) {
    h = Math.imul(h ^ (text[i] as number), 0x01000193)
    h ^= h >>> 15
  }
  return (Math.imul(h, 0x2c1b3c6d) ^ (h >>> 13)) >>> 2
}
