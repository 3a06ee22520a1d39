import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

import type {Got} from 'got'

/*
 * got is loaded on first use, so commands that never call the API do not pay for it, and from the one-file
 * bundle of it that `npm run build` makes (scripts/bundle-got.js) rather than from got's ~100 files, which Node
 * would resolve, read and compile one by one. That bundle is what the package ships: got is a devDependency, so
 * an install does not fetch got's ~20 packages only to leave them unused. src/lib/api and dist/lib/api are both
 * three levels below the package root, so the sources run by tsx (tests, bin/dev.js) load the same bundle as the
 * built CLI, or got itself before any build.
 */
export const GOT_BUNDLE_URL = new URL('../../../dist/vendor/got.cjs', import.meta.url)

// Only the TypeScript sources (bin/dev.js, tests through tsx) may run before any build; the built CLI has its bundle.
const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts')

export interface HttpRequest {
  method: string
  url: string
  headers: Record<string, string>
  body?: string
  timeoutMs: number
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

/** One HTTP exchange, whatever its status: retries, redirects and status checks are the API client's. */
export type SendHttp = (request: HttpRequest) => Promise<HttpResponse>

// got's own types stay in here: the published declarations never name got, which an install does not have.
const sendWith =
  (got: Got): SendHttp =>
  async ({method, url, headers, body, timeoutMs}) => {
    const response = await got(url, {
      method: method as 'GET',
      headers,
      body,
      throwHttpErrors: false,
      retry: {limit: 0},
      timeout: {request: timeoutMs},
      followRedirect: false,
      responseType: 'text',
    })
    return {status: response.statusCode, headers: response.headers, text: response.body}
  }

let loading: Promise<Got> | undefined

/** got itself, from its bundle. @internal: the published declarations do not name got (see stripInternal). */
export function loadGot(): Promise<Got> {
  loading ??=
    RUNNING_FROM_SOURCE && !existsSync(GOT_BUNDLE_URL)
      ? import('got').then((got) => got.got)
      : // require(), not import(): importing CommonJS from ESM first scans the whole 230 KB file for its export names
        // (cjs-module-lexer): 17 ms of `env -a`'s start-up on Node 20 (--cpu-prof), 3 ms left with require().
        Promise.resolve().then(() => (createRequire(import.meta.url)(fileURLToPath(GOT_BUNDLE_URL)) as {got: Got}).got)
  return loading
}

export function loadHttp(): Promise<SendHttp> {
  return loadGot().then(sendWith)
}
