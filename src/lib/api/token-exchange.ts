import {registerSecret} from '../secrets.js'

/** Refresh the bearer JWT when fewer than this many milliseconds remain (what go-scalingo does). */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000

/** Reads `exp` (seconds since the epoch) from a JWT payload without verifying it: we only need to know when to refresh. */
export function jwtExpiry(jwt: string): number | undefined {
  const payload = jwt.split('.')[1]
  if (!payload) return undefined
  try {
    const exp = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')).exp
    return typeof exp === 'number' ? exp : undefined
  } catch {
    return undefined
  }
}

/** Where a JWT outlives the process (jwt-store.ts): read once, before the first exchange; written after each one. */
export interface JwtStore {
  load(): Promise<string | undefined>
  save(jwt: string): Promise<void>
}

/**
 * Caches the JWT obtained from the API token in memory and exchanges again before it expires, so
 * a long-running command does not start failing after an hour. Concurrent callers share one exchange.
 * With a store, a JWT an earlier command saved is used first, and every exchanged one is saved.
 */
export class JwtCache {
  private jwt: string | undefined
  private pending: Promise<string> | undefined
  private loaded: Promise<void> | undefined

  constructor(
    private readonly exchange: () => Promise<string>,
    private readonly now: () => number = Date.now,
    private readonly store?: JwtStore,
  ) {}

  async get(): Promise<string> {
    if (this.store) await (this.loaded ??= this.load(this.store))
    if (this.jwt && !this.expiresSoon(this.jwt)) return this.jwt
    return this.refresh()
  }

  async refresh(): Promise<string> {
    this.pending ??= this.exchange()
      .then(async (jwt) => {
        registerSecret(jwt)
        this.jwt = jwt
        // The cache only saves time: a failed write must not fail the command.
        await this.store?.save(jwt).catch(() => {})
        return jwt
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }

  private async load(store: JwtStore): Promise<void> {
    const stored = await store.load().catch(() => undefined)
    if (stored && !this.jwt) {
      registerSecret(stored)
      this.jwt = stored
    }
  }

  private expiresSoon(jwt: string): boolean {
    const exp = jwtExpiry(jwt)
    // Without a readable exp we cannot know: keep it and rely on the refresh-on-401 path.
    return exp !== undefined && exp * 1000 - this.now() < REFRESH_MARGIN_MS
  }
}
