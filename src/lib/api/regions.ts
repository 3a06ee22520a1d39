import {UsageError} from '../errors.js'
import type {ApiRequester} from './types.js'

export const DEFAULT_AUTH_URL = 'https://auth.scalingo.com'
export const DEFAULT_REGION = 'osc-fr1'

export interface Region {
  name: string
  display_name?: string
  api: string
  dashboard?: string
  database_api?: string
  ssh?: string
  default?: boolean
}

export type RegionSource = 'flag' | 'git-remote' | 'env' | 'default'

export interface ResolvedRegion {
  name: string
  /** Base URL of the regional API (SCALINGO_API_URL when set). */
  apiUrl: string
  source: RegionSource
}

/**
 * SCALINGO_API_URL or SCALINGO_AUTH_URL, without trailing slashes. Checked here, once, so that a typo
 * (`127.0.0.1:4567`, no scheme) is a usage error naming the variable rather than a bare "Invalid URL".
 */
function serviceUrlFromEnv(env: NodeJS.ProcessEnv, name: 'SCALINGO_API_URL' | 'SCALINGO_AUTH_URL'): string | undefined {
  const value = env[name]
  if (!value) return undefined
  let protocol: string | undefined
  try {
    protocol = new URL(value).protocol
  } catch {
    // not a URL: the check below reports it
  }

  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new UsageError(`${name} is not an http(s) URL: ${value}`, [
      `Set it to a full URL with its scheme, e.g. ${name}=http://127.0.0.1:4567, or unset it`,
    ])
  }

  return value.replace(/\/+$/, '')
}

export function authUrl(env: NodeJS.ProcessEnv = process.env): string {
  return serviceUrlFromEnv(env, 'SCALINGO_AUTH_URL') ?? DEFAULT_AUTH_URL
}

/** The key of the credentials files: the auth URL's host without port, as the Scalingo CLI does. */
export function authHost(env: NodeJS.ProcessEnv = process.env): string {
  return new URL(authUrl(env)).hostname
}

function hostOnly(hostPort: string): string {
  return hostPort.replace(/:\d+$/, '').toLowerCase()
}

/**
 * Region precedence follows the Scalingo CLI: --region, then the region whose SSH host is the
 * git remote's host (this wins over SCALINGO_REGION), then SCALINGO_REGION, then osc-fr1.
 * SCALINGO_API_URL replaces the regional host but the region name is still resolved for messages.
 * The regions list is only fetched when it is needed (matching a remote, or finding an API host).
 */
export async function resolveRegion(
  client: ApiRequester,
  options: {flag?: string; remoteSshHost?: string; env?: NodeJS.ProcessEnv},
): Promise<ResolvedRegion> {
  const env = options.env ?? process.env
  const apiOverride = serviceUrlFromEnv(env, 'SCALINGO_API_URL')
  let regions: Region[] | undefined
  const loadRegions = async () => (regions ??= await listRegions(client))

  let name: string | undefined
  let source: RegionSource = 'default'
  if (options.flag) {
    name = options.flag
    source = 'flag'
  } else if (options.remoteSshHost) {
    const host = hostOnly(options.remoteSshHost)
    const match = (await loadRegions()).find((r) => r.ssh && hostOnly(r.ssh) === host)
    if (match) {
      name = match.name
      source = 'git-remote'
    }
  }

  if (!name && env.SCALINGO_REGION) {
    name = env.SCALINGO_REGION
    source = 'env'
  }

  name ??= DEFAULT_REGION
  if (apiOverride) return {name, apiUrl: apiOverride, source}

  const region = (await loadRegions()).find((r) => r.name === name)
  if (!region) {
    const known = (regions ?? []).map((r) => r.name).join(', ')
    throw new UsageError(
      `Unknown region '${name}'${source === 'default' ? '' : ` (from ${describeSource(source)})`}.`,
      [`Use one of: ${known || 'none available'}`],
    )
  }

  return {name, apiUrl: region.api.replace(/\/+$/, ''), source}
}

export async function listRegions(client: ApiRequester): Promise<Region[]> {
  const {body} = await client.request<{regions: Region[]}>('GET', '/v1/regions', {service: 'auth'})
  return body.regions ?? []
}

export function describeSource(source: RegionSource): string {
  return {flag: '--region', 'git-remote': 'the git remote', env: 'SCALINGO_REGION', default: 'the default'}[source]
}
