import {execFileSync} from 'node:child_process'
import {createHmac, randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * A fake Scalingo platform: ONE real HTTP server on 127.0.0.1 serving the auth service
 * (/v1/tokens/exchange, /v1/users/self, /v1/regions) and the regional API (/v1/apps/...), with the
 * JSON shapes of ../shared/platform/scalingo-api.md.
 *
 * Regions: the regions list points each region's `api` at `<url>/_region/<name>`, so a client that
 * resolves regions itself (no SCALINGO_API_URL) hits a prefix the fake strips and records; an app
 * created with `{region}` is then only found through that region. Requests without the prefix
 * (SCALINGO_API_URL=<url>) see every app.
 *
 * Extend it by adding state and a route to `routes` (method, pattern, handler); keep handlers small.
 */

export interface FakeUser {
  id: string
  username: string
  fullname: string
  email: string
  flags: Record<string, unknown>
}

export interface FakeVariable {
  id: string
  name: string
  value: string
}

export interface FakeAddon {
  id: string
  app_id: string
  provisioned_at: string
  deprovisioned_at: string | null
  status: 'provisioning' | 'running' | 'suspended'
  plan: FakePlan
  resource_id: string
  addon_provider: {id: string; name: string; logo_url: string}
  updated_at: string
}

export interface FakePlan {
  id: string
  name: string
  display_name: string
  price: number
  description: string
  position: number
  on_demand: boolean
  disabled: boolean
  disabled_alternative_plan_id: string | null
  sku: string
}

export interface FakeProvider {
  id: string
  name: string
  logo_url: string
  short_description: string
  description: string
  category: {id: string; name: string; description: string; position: number}
  plans: FakePlan[]
}

export interface FakeFormation {
  id: string
  name: string
  amount: number
  size: string
}

export interface FakeOperation {
  id: string
  created_at: string
  finished_at: string | null
  status: 'pending' | 'running' | 'done' | 'error'
  type: string
  error?: string
}

export interface FakeApp {
  id: string
  name: string
  region?: string
  status: string
  variables: FakeVariable[]
  addons: FakeAddon[]
  formation: FakeFormation[]
  operations: FakeOperation[]
}

export interface RecordedRequest {
  method: string
  /** Path without query string and without the `/_region/<name>` prefix. */
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  body: string
  /** The region prefix the request came through, if any. */
  region?: string
  status?: number
}

export type RequestMatcher = string | RegExp | ((req: RecordedRequest) => boolean)

export interface FailureOptions {
  status?: number
  body?: unknown
  headers?: Record<string, string>
  /** Wait this long before answering (with the failure, or normally when no status is given). */
  delayMs?: number
  /** How many matching requests this applies to (default 1; Infinity for every one). */
  times?: number
  /** Send the headers and part of the body, then cut the connection. */
  destroySocket?: boolean
  /** Answer 200 with a body that is not JSON. */
  invalidJson?: boolean
}

interface PendingFailure extends FailureOptions {
  matcher: RequestMatcher
  remaining: number
}

interface IssuedJwt {
  user: FakeUser
  exp: number
  revoked: boolean
}

type Handler = (ctx: RouteContext) => void | Promise<void>

interface RouteContext {
  req: RecordedRequest
  res: ServerResponse
  params: Record<string, string>
  user: FakeUser
  json: <T = unknown>() => T
  send: (status: number, body?: unknown, headers?: Record<string, string>) => void
}

interface Route {
  method: string
  pattern: RegExp
  /** Auth mode: `bearer` (a valid JWT is required), `optional`, or `none`. */
  auth: 'bearer' | 'none' | 'optional'
  handler: Handler
}

const now = () => new Date().toISOString()
const hexId = () => randomBytes(12).toString('hex')
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** The TCP Gateway's plan; its id is random per run, as plan ids are opaque and must be looked up. */
export const TCP_GATEWAY_PLAN: FakePlan = {
  id: hexId(),
  name: 'tcplb',
  display_name: 'TCP Gateway',
  price: 0,
  description: 'TCP Gateway',
  position: 1,
  on_demand: false,
  disabled: false,
  disabled_alternative_plan_id: null,
  sku: 'osc-fr1-tcp-gateway-tcplb',
}

/** A plan of any provider, e.g. a second TCP Gateway plan for the plan-picking paths. */
export function fakePlan(name: string, overrides: Partial<FakePlan> = {}): FakePlan {
  return {...TCP_GATEWAY_PLAN, id: hexId(), name, display_name: name, sku: `osc-fr1-tcp-gateway-${name}`, ...overrides}
}

export interface AddonBehaviour {
  /** How many GETs of a new addon answer `provisioning` before it is `running` (Infinity: never). */
  pollsUntilRunning: number
  /** Whether provisioning a tcp-gateway addon sets TCP_URL on the app. */
  setsTcpUrl: boolean
  /** The body of a 201 on provisioning: GOSC's `{addon, message, variables}`, `{addon}` only, or none. */
  response: 'addon' | 'empty' | 'full'
}

export class FakeScalingo {
  url = ''
  private server: Server | undefined
  private readonly secret = randomBytes(32)

  // --- state ---------------------------------------------------------------------------------
  readonly usersByToken = new Map<string, FakeUser>()
  readonly apps = new Map<string, FakeApp>()
  readonly jwts = new Map<string, IssuedJwt>()
  providers: FakeProvider[] = [
    {
      id: 'tcp-gateway',
      name: 'TCP Gateway',
      logo_url: '//cdn.scalingo.com/addons/tcp-gateway.svg',
      short_description: 'Expose a tcp process on a public TCP port.',
      description: 'TCP Gateway',
      category: {id: 'network', name: 'Network', description: 'Network', position: 5},
      plans: [TCP_GATEWAY_PLAN],
    },
  ]

  addonBehaviour: AddonBehaviour = {pollsUntilRunning: 2, setsTcpUrl: true, response: 'full'}
  /** The statuses successive GETs of a new operation return, by operation type (`restart`, `scale`); the last one sticks. */
  operationStatuses: Record<string, Array<FakeOperation['status']>> = {}
  defaultOperationStatuses: Array<FakeOperation['status']> = ['pending', 'running', 'done']
  /** The `error` of an operation that ends in `error`. */
  operationError = 'container tcp-1 failed to restart'
  /** Scale answers 200 without Location, as before the first deployment. */
  scaleWithoutOperation = false
  private readonly addonPolls = new Map<string, number>()
  private readonly operationSteps = new Map<string, {statuses: Array<FakeOperation['status']>; step: number}>()
  private tcpPorts = 0

  /** Lifetime of issued JWTs in seconds (the real platform: one hour). */
  jwtLifetimeSeconds = 3600
  readonly requests: RecordedRequest[] = []
  private failures: PendingFailure[] = []

  private readonly routes: Route[] = [
    // auth service
    {method: 'POST', pattern: /^\/v1\/tokens\/exchange$/, auth: 'none', handler: (c) => this.exchange(c)},
    {method: 'GET', pattern: /^\/v1\/users\/self$/, auth: 'bearer', handler: (c) => c.send(200, {user: c.user})},
    {
      method: 'GET',
      pattern: /^\/v1\/regions$/,
      auth: 'optional',
      handler: (c) => c.send(200, {regions: this.regions()}),
    },
    // regional API
    {
      method: 'GET',
      pattern: /^\/v1\/addon_providers$/,
      auth: 'optional',
      handler: (c) => c.send(200, {addon_providers: this.providers}),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/addon_providers\/(?<provider>[^/]+)\/plans$/,
      auth: 'optional',
      handler: (c) => {
        const provider = this.providers.find((p) => p.id === c.params.provider)
        if (!provider) return c.send(404, {resource: 'addon_provider', error: 'not found'})
        c.send(200, {plans: provider.plans})
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => c.send(200, {app: this.appJson(app)})),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/variables$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => this.listVariables(c, app)),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/addons$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => c.send(200, {addons: app.addons})),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/addons$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => this.provision(c, app)),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/addons\/(?<addon>[^/]+)$/,
      auth: 'bearer',
      handler: (c) =>
        this.withApp(c, (app) =>
          this.withChild(c, app.addons, c.params.addon, 'addon', (addon) => {
            this.advanceAddon(addon)
            c.send(200, {addon})
          }),
        ),
    },
    {
      method: 'DELETE',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/addons\/(?<addon>[^/]+)$/,
      auth: 'bearer',
      handler: (c) =>
        this.withApp(c, (app) =>
          this.withChild(c, app.addons, c.params.addon, 'addon', (addon) => {
            app.addons = app.addons.filter((a) => a !== addon)
            if (addon.addon_provider.id === 'tcp-gateway')
              app.variables = app.variables.filter((v) => v.name !== 'TCP_URL')
            c.send(204)
          }),
        ),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/containers$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => c.send(200, {containers: app.formation})),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/ps$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => c.send(200, {containers: this.ps(app)})),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/restart$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => this.startOperation(c, app, 'restart')),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/scale$/,
      auth: 'bearer',
      handler: (c) => this.withApp(c, (app) => this.scale(c, app)),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/apps\/(?<app>[^/]+)\/operations\/(?<operation>[^/]+)$/,
      auth: 'bearer',
      handler: (c) =>
        this.withApp(c, (app) =>
          this.withChild(c, app.operations, c.params.operation, 'operation', (operation) => {
            this.advanceOperation(operation)
            c.send(200, {operation})
          }),
        ),
    },
  ]

  // --- lifecycle -----------------------------------------------------------------------------
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => {
        if (!res.headersSent) res.writeHead(500, {'content-type': 'application/json'})
        res.end(JSON.stringify({error: `fake crashed: ${error.message}`}))
      })
    })
    this.server = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Points a client at this fake for both services. */
  env(): {SCALINGO_API_URL: string; SCALINGO_AUTH_URL: string} {
    return {SCALINGO_API_URL: this.url, SCALINGO_AUTH_URL: this.url}
  }

  // --- set-up helpers ------------------------------------------------------------------------
  addUser(token: string, user: Partial<FakeUser> = {}): FakeUser {
    const full: FakeUser = {
      id: `us-${hexId()}`,
      username: 'jdoe',
      fullname: 'John Doe',
      email: 'jdoe@example.com',
      flags: {},
      ...user,
    }
    this.usersByToken.set(token, full)
    return full
  }

  addApp(name: string, options: {region?: string; variables?: Record<string, string>; status?: string} = {}): FakeApp {
    const app: FakeApp = {
      id: hexId(),
      name,
      region: options.region,
      status: options.status ?? 'running',
      variables: Object.entries(options.variables ?? {}).map(([n, value]) => ({id: hexId(), name: n, value})),
      addons: [],
      formation: [{id: hexId(), name: 'web', amount: 1, size: 'M'}],
      operations: [],
    }
    this.apps.set(name, app)
    return app
  }

  /** Gives a provider its plans (several plans exercise the plan picking). */
  setPlans(providerId: string, plans: FakePlan[]): void {
    const provider = this.providers.find((p) => p.id === providerId)
    if (!provider) throw new Error(`fake: no provider ${providerId}`)
    provider.plans = plans
  }

  /** Replaces the app's formation (process types, amounts and sizes). */
  setFormation(appName: string, formation: Array<{name: string; amount: number; size?: string}>): void {
    this.app(appName).formation = formation.map((f) => ({id: hexId(), size: 'M', ...f}))
  }

  /** An already provisioned TCP Gateway addon (running, TCP_URL set unless told otherwise). */
  addTcpAddon(
    appName: string,
    options: {status?: FakeAddon['status']; plan?: FakePlan; tcpUrl?: string | null} = {},
  ): FakeAddon {
    const app = this.app(appName)
    const addon = this.newAddon(app, options.plan ?? TCP_GATEWAY_PLAN, options.status ?? 'running')
    app.addons.push(addon)
    const tcpUrl = options.tcpUrl === undefined ? this.nextTcpUrl() : options.tcpUrl
    if (tcpUrl) this.setVariable(app, 'TCP_URL', tcpUrl)
    return addon
  }

  app(name: string): FakeApp {
    const app = this.apps.get(name)
    if (!app) throw new Error(`fake: no app ${name}`)
    return app
  }

  /** Makes the next matching request(s) fail (or be slow). Matchers see the path without query or region prefix. */
  failNext(matcher: RequestMatcher, options: FailureOptions): void {
    this.failures.push({...options, matcher, remaining: options.times ?? 1})
  }

  clearFailures(): void {
    this.failures = []
  }

  /** Marks every JWT issued so far as refused, as the platform does once they are too old. */
  revokeJwts(): void {
    for (const jwt of this.jwts.values()) jwt.revoked = true
  }

  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
    )
  }

  regions(): Array<Record<string, unknown>> {
    return ['osc-fr1', 'osc-secnum-fr1'].map((name) => ({
      name,
      display_name: name === 'osc-fr1' ? 'Paris - Outscale' : 'Paris - SecNumCloud - Outscale',
      api: `${this.url}/_region/${name}`,
      dashboard: `https://my.${name}.scalingo.com`,
      database_api: `https://db-api.${name}.scalingo.com`,
      ssh: `ssh.${name}.scalingo.com:22`,
      default: name === 'osc-fr1',
    }))
  }

  // --- request handling ----------------------------------------------------------------------
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const url = new URL(req.url ?? '/', 'http://fake')
    const prefix = /^\/_region\/([^/]+)(\/.*)$/.exec(url.pathname)
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: prefix ? prefix[2] : url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      region: prefix?.[1],
    }
    this.requests.push(recorded)
    res.on('finish', () => (recorded.status = res.statusCode))
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)
      res.writeHead(status, {'content-type': 'application/json; charset=utf-8', ...headers})
      res.end(text)
    }

    const failure = this.takeFailure(recorded)
    if (failure) {
      if (failure.delayMs) await new Promise((resolve) => setTimeout(resolve, failure.delayMs))
      if (res.destroyed) return
      if (failure.destroySocket) {
        res.writeHead(200, {'content-type': 'application/json', 'content-length': '1000'})
        res.write('{"variables": [')
        setImmediate(() => res.socket?.destroy())
        return
      }

      if (failure.invalidJson) return send(200, '<html>Bad gateway</html>', {'content-type': 'text/html'})
      if (failure.status)
        return send(failure.status, failure.body ?? {error: `fake failure ${failure.status}`}, failure.headers)
    }

    for (const route of this.routes) {
      if (route.method !== recorded.method) continue
      const match = route.pattern.exec(recorded.path)
      if (!match) continue
      const user = route.auth === 'none' ? undefined : this.authenticate(recorded)
      if (route.auth === 'bearer' && !user) return send(401, {error: 'You are not authorized to do this operation'})
      const json = <T>() => (recorded.body ? JSON.parse(recorded.body) : {}) as T
      await route.handler({req: recorded, res, params: {...match.groups}, user: user as FakeUser, json, send})
      return
    }

    send(404, {error: 'not found'})
  }

  private takeFailure(req: RecordedRequest): PendingFailure | undefined {
    const failure = this.failures.find((f) => f.remaining > 0 && matches(f.matcher, req))
    if (failure) failure.remaining--
    return failure
  }

  private authenticate(req: RecordedRequest): FakeUser | undefined {
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    if (!match) return undefined
    const jwt = match[1]
    const [header, payload, signature] = jwt.split('.')
    if (!signature || this.sign(`${header}.${payload}`) !== signature) return undefined
    const issued = this.jwts.get(jwt)
    if (!issued || issued.revoked || issued.exp * 1000 <= Date.now()) return undefined
    return issued.user
  }

  private sign(data: string): string {
    return createHmac('sha256', this.secret).update(data).digest('base64url')
  }

  private exchange(c: RouteContext): void {
    const basic = /^Basic (.+)$/.exec(c.req.headers.authorization ?? '')
    const decoded = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : ''
    // Basic auth with an empty user name: ":<api token>".
    const user = decoded.startsWith(':') ? this.usersByToken.get(decoded.slice(1)) : undefined
    if (!user) return c.send(401, {error: 'invalid token'})
    const iat = Math.floor(Date.now() / 1000)
    const unsigned = `${b64url({alg: 'HS256', typ: 'JWT'})}.${b64url({sub: user.id, iat, exp: iat + this.jwtLifetimeSeconds, jti: hexId()})}`
    const jwt = `${unsigned}.${this.sign(unsigned)}`
    this.jwts.set(jwt, {user, exp: iat + this.jwtLifetimeSeconds, revoked: false})
    c.send(200, {token: jwt})
  }

  private withApp(c: RouteContext, then: (app: FakeApp) => void): void {
    const app = this.apps.get(decodeURIComponent(c.params.app))
    if (!app || (c.req.region && app.region && app.region !== c.req.region)) {
      return c.send(404, {resource: 'app', error: 'not found'})
    }

    then(app)
  }

  /** One of an app's addons or operations by id, or the API's 404 naming the resource. */
  private withChild<T extends {id: string}>(
    c: RouteContext,
    items: T[],
    id: string,
    resource: string,
    then: (item: T) => void,
  ): void {
    const item = items.find((i) => i.id === id)
    if (!item) return c.send(404, {resource, error: 'not found'})
    then(item)
  }

  private appJson(app: FakeApp): Record<string, unknown> {
    return {
      id: app.id,
      name: app.name,
      created_at: now(),
      updated_at: now(),
      git_url: `git@ssh.${app.region ?? 'osc-fr1'}.scalingo.com:${app.name}.git`,
      url: `https://${app.name}.${app.region ?? 'osc-fr1'}.scalingo.io`,
      status: app.status,
      region: app.region ?? 'osc-fr1',
      owner: {id: 'us-owner', username: 'owner', email: 'owner@example.com'},
    }
  }

  /** aliases=false resolves `$OTHER_VAR` values, as the real API does. */
  private listVariables(c: RouteContext, app: FakeApp): void {
    const resolve = c.req.query.get('aliases') === 'false'
    const variables = app.variables.map((v) => {
      if (!resolve) return v
      const alias = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(v.value)
      const target = alias && app.variables.find((o) => o.name === alias[1])
      return target ? {...v, value: target.value} : v
    })
    c.send(200, {variables})
  }

  private ps(app: FakeApp): Array<Record<string, unknown>> {
    return app.formation.flatMap((f) =>
      Array.from({length: f.amount}, (_, i) => ({
        id: hexId(),
        app_id: app.id,
        type: f.name,
        type_index: i + 1,
        label: `${f.name}-${i + 1}`,
        created_at: now(),
        deleted_at: null,
        state: 'running',
        size: f.size,
        command: '',
      })),
    )
  }

  private provision(c: RouteContext, app: FakeApp): void {
    const {addon: wanted} = c.json<{addon?: {addon_provider_id?: string; plan_id?: string}}>()
    const provider = this.providers.find((p) => p.id === wanted?.addon_provider_id)
    if (!provider) return c.send(404, {resource: 'addon_provider', error: 'not found'})
    const plan = provider.plans.find((p) => p.id === wanted?.plan_id)
    if (!plan) return c.send(422, {errors: {plan_id: ['is invalid']}})
    const addon = this.newAddon(app, plan, 'provisioning', provider)
    app.addons.push(addon)
    this.addonPolls.set(addon.id, this.addonBehaviour.pollsUntilRunning)
    const variables: string[] = []
    if (provider.id === 'tcp-gateway' && this.addonBehaviour.setsTcpUrl) {
      this.setVariable(app, 'TCP_URL', this.nextTcpUrl())
      variables.push('TCP_URL')
    }

    const response = this.addonBehaviour.response
    if (response === 'empty') return c.send(201)
    c.send(201, response === 'full' ? {addon, message: 'Your TCP gateway is being provisioned.', variables} : {addon})
  }

  private newAddon(app: FakeApp, plan: FakePlan, status: FakeAddon['status'], provider = this.providers[0]): FakeAddon {
    return {
      id: hexId(),
      app_id: app.id,
      provisioned_at: '2026-08-20T10:00:00.000+02:00',
      deprovisioned_at: null,
      status,
      plan,
      resource_id: `${app.name}-tcp-${hexId().slice(0, 4)}`,
      addon_provider: {id: provider.id, name: provider.name, logo_url: provider.logo_url},
      updated_at: now(),
    }
  }

  /** Counts one poll of a provisioning addon; it turns `running` once its polls are used up. */
  private advanceAddon(addon: FakeAddon): void {
    const left = this.addonPolls.get(addon.id)
    if (left === undefined) return
    if (left > 0) return void this.addonPolls.set(addon.id, left - 1)
    addon.status = 'running'
    this.addonPolls.delete(addon.id)
  }

  private nextTcpUrl(): string {
    return `tcp://tcp-1.osc-fr1.scalingo.com:${20_000 + ++this.tcpPorts}`
  }

  private setVariable(app: FakeApp, name: string, value: string): void {
    app.variables = [...app.variables.filter((v) => v.name !== name), {id: hexId(), name, value}]
  }

  private advanceOperation(operation: FakeOperation): void {
    const script = this.operationSteps.get(operation.id)
    if (!script) return
    const status = script.statuses[Math.min(script.step, script.statuses.length - 1)]
    script.step++
    operation.status = status
    if (status === 'done' || status === 'error') operation.finished_at = now()
    if (status === 'error') operation.error = this.operationError
  }

  private startOperation(c: RouteContext, app: FakeApp, type: string, body?: unknown): void {
    const operation: FakeOperation = {id: hexId(), created_at: now(), finished_at: null, status: 'pending', type}
    this.operationSteps.set(operation.id, {
      statuses: this.operationStatuses[type] ?? this.defaultOperationStatuses,
      step: 0,
    })
    app.operations.push(operation)
    const base = c.req.region ? `${this.url}/_region/${c.req.region}` : this.url
    c.send(202, body, {location: `${base}/v1/apps/${app.name}/operations/${operation.id}`})
  }

  private scale(c: RouteContext, app: FakeApp): void {
    const {containers = []} = c.json<{containers?: Array<{name: string; amount: number; size?: string}>}>()
    for (const wanted of containers) {
      const existing = app.formation.find((f) => f.name === wanted.name)
      if (!existing) return c.send(404, {resource: 'container_type', error: 'not found'})
      existing.amount = wanted.amount
      if (wanted.size) existing.size = wanted.size
    }

    if (this.scaleWithoutOperation) return c.send(200, {containers: app.formation})
    this.startOperation(c, app, 'scale', {containers: app.formation})
  }
}

function matches(matcher: RequestMatcher, req: RecordedRequest): boolean {
  if (typeof matcher === 'string') return req.path === matcher
  if (matcher instanceof RegExp) return matcher.test(req.path)
  return matcher(req)
}

/** The Scalingo CLI's auth file (auth_data_version 2.1), keyed by the auth host, as `scalingo login` writes it. */
export function scalingoCliAuthFile(host: string, token: string): string {
  return JSON.stringify({
    auth_data_version: '2.1',
    last_update: '2026-08-20T10:00:00.123456789+02:00',
    auth_config_data: {
      [host]: {
        tokens: {token},
        user: {id: 'us-1', username: 'cli-user', fullname: 'CLI User', email: 'c@example.com', flags: {}},
      },
    },
  })
}

/** A real git repository in a temp dir with the given remotes (`git init` + `git remote add`). The caller removes it. */
export function gitRepo(remotes: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-git-'))
  execFileSync('git', ['init', '-q', dir])
  for (const [name, url] of Object.entries(remotes)) execFileSync('git', ['-C', dir, 'remote', 'add', name, url])
  return dir
}

/**
 * A temp HOME where the Scalingo CLI is logged in with `token` for `host` (its auth file, mode 0700 as
 * `scalingo login` writes it). The caller removes `home`.
 */
export function homeWithScalingoCliLogin(
  prefix: string,
  host: string,
  token: string,
): {home: string; cliAuthPath: string} {
  const home = mkdtempSync(join(tmpdir(), prefix))
  mkdirSync(join(home, '.config', 'scalingo'), {recursive: true})
  const cliAuthPath = join(home, '.config', 'scalingo', 'auth')
  writeFileSync(cliAuthPath, scalingoCliAuthFile(host, token), {mode: 0o700})
  return {home, cliAuthPath}
}
