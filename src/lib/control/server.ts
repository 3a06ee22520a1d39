import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import type {LocalStatus, RestartReport} from '../contract.js'
import {httpUrl} from '../host-port.js'
import {RestartOperations} from './operations.js'

/** What the control interface needs from the running app (LocalApp provides it; tests use a fake). */
export interface ControlTarget {
  status(): LocalStatus
  restart(reason: string): Promise<RestartReport>
  environmentFor(type: string, index: number, port?: number): Record<string, string>
}

export interface RouteContext {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  params: Record<string, string>
  server: ControlServer
}

export type RouteHandler = (context: RouteContext) => void | Promise<void>

export interface RouteOptions {
  /** Answers a request without a valid token instead of the JSON 401 (a browser page gets an HTML one). */
  unauthorized?: (res: ServerResponse) => void
}

interface Route extends RouteOptions {
  method: string
  pattern: RegExp
  names: string[]
  handler: RouteHandler
}

/** The CLI's own credentials: instances may inherit them, but the control interface never hands them out. */
const WITHHELD_VARIABLES = new Set(['SCALINGO_API_TOKEN'])
const PROCESS_TYPE = /^[A-Za-z0-9_-]{1,63}$/
const RESTART_REASON = 'requested through the control interface'

export function sendJson(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    'Cache-Control': 'no-store',
    ...(body === undefined ? {} : {'Content-Type': 'application/json; charset=utf-8'}),
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

/** Constant time whatever the candidate's length: both sides are hashed to 32 bytes first. */
function sameToken(candidate: string, token: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(candidate), digest(token))
}

/** Methods that change nothing here: the others must come from no browser page, or from our own. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** decodeURIComponent(), undefined instead of a URIError for `%E0%A4%A` and the like. */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

function compile(path: string): {pattern: RegExp; names: string[]} {
  const names: string[] = []
  const source = path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`)
      names.push(segment.slice(1))
      return '([^/]+)'
    })
    .join('/')
  return {pattern: new RegExp(`^${source}$`), names}
}

/**
 * The local gateway's control interface: HTTP on 127.0.0.1, every request authenticated with a
 * random token (`Authorization: Bearer <token>`, or `?token=` for a browser), routes shaped like
 * the Scalingo API. Other parts add routes with `route()` (a status page, an event stream).
 */
export class ControlServer {
  readonly token = randomBytes(32).toString('base64url')
  readonly operations: RestartOperations
  private readonly routes: Route[] = []
  private readonly http: Server
  private baseUrl = ''

  constructor(readonly target: ControlTarget) {
    this.operations = new RestartOperations(() => target.restart(RESTART_REASON))
    this.http = createServer((req, res) => void this.handle(req, res))
    this.addApiRoutes()
  }

  /** `http://127.0.0.1:<port>`, without the token. */
  get url(): string {
    return this.baseUrl
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port
  }

  route(method: string, path: string, handler: RouteHandler, options: RouteOptions = {}): this {
    this.routes.push({method: method.toUpperCase(), ...compile(path), handler, ...options})
    return this
  }

  async listen(host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject)
      this.http.listen(0, host, () => {
        this.http.removeListener('error', reject)
        resolve()
      })
    })
    this.baseUrl = httpUrl(host, this.port)
    return this
  }

  /** Stops listening and ends open connections (kept-alive ones, event streams). */
  async close(): Promise<void> {
    if (!this.http.listening) return
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()))
    this.http.closeAllConnections()
    await closed
  }

  private addApiRoutes(): void {
    this.route('GET', '/v1/status', ({res}) => sendJson(res, 200, {status: this.target.status()}))
    this.route('POST', '/v1/restart', ({res}) => {
      const operation = this.operations.request()
      sendJson(res, 202, undefined, {Location: `${this.url}/v1/operations/${operation.id}`})
    })
    this.route('GET', '/v1/operations/:id', ({res, params}) => {
      const operation = this.operations.get(params.id)
      if (operation) sendJson(res, 200, {operation})
      else sendJson(res, 404, {error: `No operation ${params.id} on this gateway.`})
    })
    this.route('GET', '/v1/env', ({res, url}) => {
      const type = url.searchParams.get('type') ?? 'tcp'
      if (!PROCESS_TYPE.test(type)) {
        sendJson(res, 400, {error: 'type must be a process type name such as tcp or web.'})
        return
      }

      // No PORT: every instance gets its own, and a new one at every restart.
      const variables = Object.entries(this.target.environmentFor(type, 1))
        .filter(([name]) => !WITHHELD_VARIABLES.has(name))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, value]) => ({name, value}))
      sendJson(res, 200, {variables})
    })
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume()
    try {
      const url = new URL(req.url ?? '/', this.url || 'http://127.0.0.1')
      if (!this.isLoopbackHost(req.headers.host)) {
        // A page on another site reaching us through DNS rebinding names its own host here.
        sendJson(res, 421, {error: 'This control interface only answers requests addressed to 127.0.0.1 or localhost.'})
        return
      }

      if (!SAFE_METHODS.has(req.method ?? '') && !this.isSameOrigin(req)) {
        // Defence in depth behind the token: a form on another site can POST here (a "simple"
        // request, no preflight), and browsers always name the page's origin on a POST.
        sendJson(res, 403, {
          error: `${req.method} requests from another origin (${String(req.headers.origin)}) are refused: only the status page served here and clients that send no Origin may change anything.`,
        })
        return
      }

      if (!this.isAuthorized(req, url)) {
        const page = this.routes.find((r) => r.unauthorized && r.pattern.test(url.pathname))
        if (page?.unauthorized) {
          page.unauthorized(res)
          return
        }

        sendJson(
          res,
          401,
          {
            error:
              'A valid token is required: send Authorization: Bearer <token> (see the state file .scalingo-tcp.json).',
          },
          {
            'WWW-Authenticate': 'Bearer realm="scalingo-tcp"',
          },
        )
        return
      }

      const candidates = this.routes.filter((r) => r.pattern.test(url.pathname))
      const route = candidates.find((r) => r.method === req.method || (r.method === 'GET' && req.method === 'HEAD'))
      if (!route) {
        if (candidates.length > 0)
          sendJson(
            res,
            405,
            {error: `${req.method} is not allowed on ${url.pathname}.`},
            {Allow: [...new Set(candidates.map((r) => r.method))].join(', ')},
          )
        else sendJson(res, 404, {error: `No route ${url.pathname}.`})
        return
      }

      const match = route.pattern.exec(url.pathname)!
      const params: Record<string, string> = {}
      for (const [i, name] of route.names.entries()) {
        const value = decodePathSegment(match[i + 1])
        if (value === undefined) {
          sendJson(res, 400, {error: `Malformed percent-encoding in ${url.pathname}.`})
          return
        }

        params[name] = value
      }

      await route.handler({req, res, url, params, server: this})
    } catch (error) {
      if (res.headersSent) res.destroy()
      else sendJson(res, 500, {error: error instanceof Error ? error.message : String(error)})
    }
  }

  private isAuthorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization
    const bearer = header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
    const candidate = bearer || url.searchParams.get('token')
    return typeof candidate === 'string' && sameToken(candidate, this.token)
  }

  /** No Origin (curl, this CLI, Node) or the origin of the Host it was sent to (the status page). */
  private isSameOrigin(req: IncomingMessage): boolean {
    const {origin, host} = req.headers
    return origin === undefined || origin.toLowerCase() === `http://${host}`.toLowerCase()
  }

  private isLoopbackHost(host: string | undefined): boolean {
    if (!host) return false
    const name = host.replace(/:\d+$/, '').toLowerCase()
    return ['127.0.0.1', 'localhost', '[::1]'].includes(name)
  }
}

export async function startControlServer(
  target: ControlTarget,
  options: {host?: '127.0.0.1'} = {},
): Promise<ControlServer> {
  return new ControlServer(target).listen(options.host ?? '127.0.0.1')
}
