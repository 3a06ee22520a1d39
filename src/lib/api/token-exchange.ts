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

/**
 * Caches the JWT obtained from the API token in memory and exchanges again before it expires, so
 * a long-running command does not start failing after an hour. Concurrent callers share one exchange.
 */
export class JwtCache {
  private jwt: string | undefined
  private pending: Promise<string> | undefined

  constructor(
    private readonly exchange: () => Promise<string>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    if (this.jwt && !this.expiresSoon(this.jwt)) return this.jwt
    return this.refresh()
  }

  async refresh(): Promise<string> {
    this.pending ??= this.exchange()
      .then((jwt) => {
        registerSecret(jwt)
        this.jwt = jwt
        return jwt
      })
      .finally(() => {
        this.pending = undefined
      })
    return this.pending
  }

  private expiresSoon(jwt: string): boolean {
    const exp = jwtExpiry(jwt)
    // Without a readable exp we cannot know: keep it and rely on the refresh-on-401 path.
    return exp !== undefined && exp * 1000 - this.now() < REFRESH_MARGIN_MS
  }
}
