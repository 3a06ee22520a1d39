// ESLint flat config: JavaScript's and typescript-eslint's recommended rules, with eslint-config-prettier last so
// that formatting is Prettier's alone (`npm run lint` runs both; `npm test` runs lint first).
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: ['dist/', '.dist-tmp/', 'build/', 'node_modules/', 'examples/**/node_modules/', '**/*.generated.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: {...globals.node}},
    rules: {
      // Unused names are errors, except the ones that say they are unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'},
      ],
      'no-extend-native': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {sourceType: 'commonjs'},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
  {
    files: ['src/lib/control/status-page/**/*.js'],
    languageOptions: {globals: {...globals.browser}},
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: {globals: {...globals.mocha}},
    // Tests read back JSON (NDJSON events, API bodies, a page's DOM through Playwright) and check its shape with
    // assertions; typing every such value would restate the contract the assertions already check.
    rules: {'@typescript-eslint/no-explicit-any': 'off'},
  },
  prettier,
)
