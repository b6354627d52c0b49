// Lint rules, including the import boundaries of shared/DESIGN.md's layout.

import js from '@eslint/js'
import svelte from 'eslint-plugin-svelte'
import globals from 'globals'
import tseslint from 'typescript-eslint'
import svelteConfig from './svelte.config.js'

const noElectron = {
  name: 'electron',
  message: 'Only src-main/electron/ may import electron: the rest runs in browser mode, tests and the engine process.',
}
// Main-process code, and model-format/ which both sides share, never import the engine's code:
// onnxruntime's native code loads only in the engine process, whose crashes take only it down.
const engineSide = 'Only src-main/engine/ may import the engine or onnxruntime-node; what main shares with it lives in src-main/model-format/.'
const noEngineSide = [
  { regex: '(^|/)engine(/|$)', message: engineSide },
  { regex: '^onnxruntime-node(/|$)', message: engineSide },
]
// The engine and model-format (which main and the engine both load) import src-shared,
// model-format and their own folder, never a main-process area. engine/ is not listed:
// noEngineSide keeps it out of model-format.
const mainAreas = ['app', 'models', 'store', 'remote', 'electron', 'serve', 'api-server', 'engine-host']
const noMainArea = (message) => ({ regex: `^(\\.\\./)+(${mainAreas.join('|')})(/|$)`, message })
// The app never loads the project's tools (test-model builder, benches): they are not shipped.
const noTools = { regex: '^(\\.\\./)+tools/', message: 'src-main never imports tools/: tools are not part of the app.' }

export default tseslint.config(
  { ignores: ['.*/**', 'dist/**', 'out/**', 'release/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'tools/bench/peers/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { projectService: false, extraFileExtensions: ['.svelte'], parser: tseslint.parser, svelteConfig },
    },
  },
  {
    files: ['src-renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['src-shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./)', message: 'src-shared imports nothing outside src-shared.' }] },
      ],
    },
  },
  {
    files: ['src-renderer/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: 'src-shared/',
              allowTypeImports: true,
              message: 'The renderer imports only types from src-shared.',
            },
            { regex: 'src-main/|^electron$|^node:', message: 'The renderer has no Node and no main-process code.' },
          ],
        },
      ],
    },
  },
  // One block per area: a later block's no-restricted-imports replaces an earlier one's.
  {
    files: ['src-main/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [noElectron], patterns: [noTools, noMainArea('src-main/engine/ imports only src-shared, src-main/model-format and itself.')] },
      ],
    },
  },
  {
    files: ['src-main/model-format/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [...noEngineSide, noTools, noMainArea('src-main/model-format/ imports only src-shared and itself: main and the engine both load it.')],
        },
      ],
    },
  },
  {
    files: ['src-main/electron/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...noEngineSide, noTools] }] },
  },
  {
    files: ['src-main/**'],
    ignores: ['src-main/engine/**', 'src-main/electron/**', 'src-main/model-format/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron], patterns: [...noEngineSide, noTools] }] },
  },
)
