// Constrained decoding: the reply is kept inside a grammar (any JSON, or JSON matching a schema)
// by masking, before each token is chosen, the logits of every token that would leave it. The
// tokenizer's vocabulary is read into XGrammar once per model; a compiled grammar is kept per
// format, so a schema used again costs nothing to set up.

import { AppError } from '../../../src-shared/errors.ts'
import type { ResponseFormat, ToolDefinition } from '../../../src-shared/types.ts'
import type { ChatTokenizer } from '../tokenizer.ts'
import { xgrammar } from './xgrammar.ts'
import type * as XGrammar from '@mlc-ai/web-xgrammar'

/** Most whitespace characters in a row between JSON tokens: pretty-printing four levels deep, never an endless run. */
const MAX_WHITESPACE = 12
/** Compiled grammars kept per model (the most recently used). */
const KEPT_GRAMMARS = 16

/** One reply's grammar state: mask the logits, then tell it the token chosen. */
export interface Constraint {
  /** Sets the logits of tokens the grammar does not allow next to -Infinity. */
  mask(logits: Float32Array): Promise<void>
  /** The token chosen; throws if the grammar did not allow it (a bug, never the model's doing). */
  accept(token: number): void
  /** Whether the grammar is complete and only the end of the reply may follow. */
  readonly finished: boolean
  dispose(): void
}

export class Grammars {
  readonly #tokenizer: ChatTokenizer
  readonly #vocab: number
  #compiler: Promise<XGrammar.GrammarCompiler> | null = null
  readonly #compiled = new Map<string, Promise<XGrammar.CompiledGrammar>>()

  /** `vocab`: the logits' length (the model's, which can exceed the tokenizer's). */
  constructor(tokenizer: ChatTokenizer, vocab: number) {
    this.#tokenizer = tokenizer
    this.#vocab = vocab
  }

  /** A fresh constraint for `format`; null for plain text. BAD_REQUEST for a schema XGrammar cannot compile. */
  async constraint(format: ResponseFormat | undefined): Promise<Constraint | null> {
    if (format === undefined || format.type === 'text') return null
    return this.#matcher(format.type === 'json_object' ? 'json' : `schema:${JSON.stringify(format.schema)}`, async (compiler) => {
      if (format.type === 'json_object') return compiler.compileBuiltinJSONGrammar()
      return compiler.compileJSONSchema(JSON.stringify(format.schema), true, undefined, undefined, true, MAX_WHITESPACE)
    })
  }

  /**
   * Free text in which every `<tool_call>` the model opens must go on as a call of one of `tools`
   * with arguments that match its parameters, and close (Hermes' format, tool_choice auto).
   */
  async toolCalls(tools: readonly ToolDefinition[]): Promise<Constraint> {
    const tags = tools.map((t) => ({
      type: 'tag' as const,
      begin: `<tool_call>\n{"name": ${JSON.stringify(t.name)}, "arguments": `,
      content: { type: 'json_schema' as const, json_schema: t.parameters ?? { type: 'object' } },
      end: '}\n</tool_call>',
    }))
    return this.#matcher(`tools:${JSON.stringify(tools)}`, (compiler) =>
      compiler.compileStructuralTag({ type: 'structural_tag', format: { type: 'triggered_tags', triggers: ['<tool_call>'], tags } }),
    )
  }

  async #matcher(key: string, compile: (compiler: XGrammar.GrammarCompiler) => Promise<XGrammar.CompiledGrammar>): Promise<Constraint> {
    const compiled = await this.#compile(key, compile)
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(compiled, [...this.#tokenizer.eosIds])
    return new MatcherConstraint(matcher, this.#vocab)
  }

  dispose(): void {
    for (const compiled of this.#compiled.values()) compiled.then((c) => c.dispose(), () => undefined)
    this.#compiled.clear()
    this.#compiler?.then((c) => c.dispose(), () => undefined)
    this.#compiler = null
  }

  #compile(key: string, compile: (compiler: XGrammar.GrammarCompiler) => Promise<XGrammar.CompiledGrammar>): Promise<XGrammar.CompiledGrammar> {
    let compiled = this.#compiled.get(key)
    if (compiled === undefined) {
      compiled = this.#compileNew(compile).catch((err: unknown) => {
        this.#compiled.delete(key)
        throw err
      })
      if (this.#compiled.size >= KEPT_GRAMMARS) {
        const [oldest, grammar] = this.#compiled.entries().next().value as [string, Promise<XGrammar.CompiledGrammar>]
        this.#compiled.delete(oldest)
        grammar.then((c) => c.dispose(), () => undefined)
      }
    } else {
      this.#compiled.delete(key)
    }
    this.#compiled.set(key, compiled)
    return compiled
  }

  async #compileNew(compile: (compiler: XGrammar.GrammarCompiler) => Promise<XGrammar.CompiledGrammar>): Promise<XGrammar.CompiledGrammar> {
    const compiler = await (this.#compiler ??= this.#newCompiler())
    try {
      return await compile(compiler)
    } catch (err) {
      throw new AppError('BAD_REQUEST', `The JSON Schema cannot be used to constrain the reply: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  async #newCompiler(): Promise<XGrammar.GrammarCompiler> {
    const { tokens, kind, prependSpace } = this.#tokenizer.vocabulary()
    // The model may score more ids than the tokenizer has (padded embeddings): those stay masked.
    const info = await xgrammar().TokenizerInfo.createTokenizerInfo(tokens, kind, prependSpace, this.#vocab, [...this.#tokenizer.eosIds])
    return xgrammar().GrammarCompiler.createGrammarCompiler(info)
  }
}

class MatcherConstraint implements Constraint {
  readonly #matcher: XGrammar.GrammarMatcher
  readonly #vocab: number

  constructor(matcher: XGrammar.GrammarMatcher, vocab: number) {
    this.#matcher = matcher
    this.#vocab = vocab
  }

  get finished(): boolean {
    return this.#matcher.isTerminated()
  }

  async mask(logits: Float32Array): Promise<void> {
    const bits = await this.#matcher.getNextTokenBitmask()
    const n = Math.min(logits.length, this.#vocab)
    for (let word = 0; word * 32 < n; word++) {
      const allowed = bits[word]!
      if (allowed === -1) continue
      const end = Math.min(n, word * 32 + 32)
      for (let id = word * 32; id < end; id++) if (((allowed >>> (id & 31)) & 1) === 0) logits[id] = -Infinity
    }
    for (let id = n; id < logits.length; id++) logits[id] = -Infinity
  }

  accept(token: number): void {
    if (!this.#matcher.acceptToken(token)) throw new AppError('INTERNAL', `the grammar refused token ${token} it had allowed`)
  }

  dispose(): void {
    this.#matcher.dispose()
  }
}
