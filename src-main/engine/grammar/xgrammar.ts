// XGrammar (mlc-ai/xgrammar compiled to WebAssembly, @mlc-ai/web-xgrammar): grammars from JSON
// Schemas, and per step the bitmask of tokens that keep the output inside the grammar.
//
// Its npm build is a UMD bundle in a package marked "type": "module": Node would run it as an ES
// module, where its CommonJS branch cannot be taken and its Emscripten loader finds no `require`.
// It is evaluated here as the CommonJS module it is, once per process, with this module's require.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type * as XGrammar from '@mlc-ai/web-xgrammar'

export type XGrammarModule = typeof XGrammar

let loaded: XGrammarModule | null = null

export function xgrammar(): XGrammarModule {
  if (loaded !== null) return loaded
  const require = createRequire(import.meta.url)
  const file = require.resolve('@mlc-ai/web-xgrammar')
  const module = { exports: {} as XGrammarModule }
  // The package's own code from node_modules, run as CommonJS (see above).
  const run = new Function('exports', 'module', 'require', '__filename', '__dirname', readFileSync(file, 'utf8')) as (...args: unknown[]) => void
  run(module.exports, module, require, file, path.dirname(file))
  loaded = module.exports
  return loaded
}
