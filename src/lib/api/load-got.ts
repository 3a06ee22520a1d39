import {existsSync} from 'node:fs'

import type {Got} from 'got'

/*
 * got is loaded on first use, so commands that never call the API do not pay for it, and from the one-file
 * bundle of it that `npm run build` makes (scripts/bundle-got.js) rather than from got's ~100 files, which Node
 * would resolve, read and compile one by one. src/lib/api and dist/lib/api are both three levels below the
 * package root, so the sources run by tsx (tests, bin/dev.js) load the same bundle as the built CLI.
 */
export const GOT_BUNDLE_URL = new URL('../../../dist/vendor/got.cjs', import.meta.url)

// Only the TypeScript sources (bin/dev.js, tests through tsx) may run before any build; the built CLI has its bundle.
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts')

let loading: Promise<Got> | undefined

export function loadGot(): Promise<Got> {
  loading ??=
    RUNNING_FROM_SOURCE && !existsSync(GOT_BUNDLE_URL)
      ? import('got').then((got) => got.got)
      : import(GOT_BUNDLE_URL.href).then((bundle: {got: Got}) => bundle.got)
  return loading
}
