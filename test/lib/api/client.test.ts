import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ScalingoClient} from '../../../src/lib/api/client.js'
import {
  ApiError,
  AuthenticationError,
  ForbiddenError,
  InvalidResponseError,
  NetworkError,
  RateLimitError,
  ResourceNotFoundError,
  ServerError,
  ValidationError,
} from '../../../src/lib/api/errors.js'
import {getApp, listVariables} from '../../../src/lib/api/resources.js'
import {jwtExpiry} from '../../../src/lib/api/token-exchange.js'
import {commandRef} from '../../../src/lib/command-line.js'
import {ExitCode} from '../../../src/lib/errors.js'
import {FakeScalingo} from '../../support/fake-scalingo.js'

const TOKEN = `tk-us-${randomBytes(16).toString('hex')}`

async function caught(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise
  } catch (error) {
    return error as ApiError
  }

  throw new Error('expected a rejection')
}

describe('ScalingoClient against the fake platform', () => {
  let fake: FakeScalingo
  let logs: string[]
  // The JWT cache on disk stays on (each test has its own fake platform, hence its own cache key), out of HOME.
  const configDir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-client-config-'))
  after(() => rmSync(configDir, {recursive: true, force: true}))

  beforeEach(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN, {username: 'jdoe'})
    fake.addApp('my-app', {variables: {A: '1'}})
    logs = []
  })

  afterEach(async () => {
    await fake.stop()
  })

  function client(overrides: Record<string, string> = {}, options: {retries?: number; timeoutMs?: number} = {}) {
    return new ScalingoClient({
      env: {
        ...fake.env(),
        SCALINGO_API_TOKEN: TOKEN,
        SCALINGO_TCP_RETRY_BASE_MS: '5',
        SCALINGO_TCP_CONFIG_DIR: configDir,
        ...overrides,
      },
      region: {name: 'osc-fr1', apiUrl: fake.url, source: 'default'},
      log: (line) => logs.push(line),
      ...options,
    })
  }

  it('exchanges the token with Basic auth (empty user), then sends the JWT as Bearer with a scalingo-tcp User-Agent', async () => {
    const app = await getApp(client(), 'my-app')
    expect(app.name).to.equal('my-app')
    const [exchange] = fake.requestsTo('POST', '/v1/tokens/exchange')
    expect(Buffer.from(exchange.headers.authorization!.replace('Basic ', ''), 'base64').toString()).to.equal(
      `:${TOKEN}`,
    )
    const [get] = fake.requestsTo('GET', '/v1/apps/my-app')
    expect(get.headers.authorization).to.match(/^Bearer eyJ/)
    expect(get.headers['user-agent']).to.match(/^scalingo-tcp\/\d+\.\d+\.\d+/)
    expect(get.headers.accept).to.equal('application/json')
  })

  it('reuses a JWT that has more than 5 minutes left', async () => {
    const c = client()
    await getApp(c, 'my-app')
    await getApp(c, 'my-app')
    expect(fake.requestsTo('POST', '/v1/tokens/exchange')).to.have.length(1)
  })

  it('refreshes a JWT that expires in less than 5 minutes before using it again', async () => {
    fake.jwtLifetimeSeconds = 120
    const c = client()
    await getApp(c, 'my-app')
    const firstJwt = fake.requestsTo('GET', '/v1/apps/my-app')[0].headers.authorization
    expect(jwtExpiry(firstJwt!.replace('Bearer ', ''))! - Date.now() / 1000).to.be.below(121)
    await getApp(c, 'my-app')
    expect(fake.requestsTo('POST', '/v1/tokens/exchange')).to.have.length(2)
    const gets = fake.requestsTo('GET', '/v1/apps/my-app')
    expect(gets.map((r) => r.status)).to.deep.equal([200, 200])
    expect(gets[1].headers.authorization).to.not.equal(firstJwt)
  })

  it('re-exchanges once when the API refuses an old JWT with 401, then succeeds', async () => {
    const c = client()
    await getApp(c, 'my-app')
    fake.revokeJwts()
    await getApp(c, 'my-app')
    expect(fake.requestsTo('POST', '/v1/tokens/exchange')).to.have.length(2)
    expect(fake.requestsTo('GET', '/v1/apps/my-app').map((r) => r.status)).to.deep.equal([200, 401, 200])
  })

  it('gives up with an auth error (exit 3) when the refreshed JWT is refused too', async () => {
    fake.failNext('/v1/apps/my-app', {status: 401, body: {error: 'unauthorized'}, times: Infinity})
    const error = await caught(getApp(client(), 'my-app'))
    expect(error).to.be.instanceOf(AuthenticationError)
    expect(error.exitCode).to.equal(ExitCode.Auth)
    expect(error.message).to.include('SCALINGO_API_TOKEN')
    expect(error.suggestions.join(' ')).to.include(commandRef('scalingo:login'))
    expect(fake.requestsTo('POST', '/v1/tokens/exchange')).to.have.length(2)
    expect(fake.requestsTo('GET', '/v1/apps/my-app')).to.have.length(2)
  })

  it('maps an invalid API token to an auth error (exit 3) without retrying the POST', async () => {
    const error = await caught(getApp(client({SCALINGO_API_TOKEN: 'tk-us-invalid-token'}), 'my-app'))
    expect(error).to.be.instanceOf(AuthenticationError)
    expect(error.message).to.match(/rejected the API token \(API token from SCALINGO_API_TOKEN\)/)
    expect(fake.requestsTo('POST', '/v1/tokens/exchange')).to.have.length(1)
  })

  it('retries the token exchange after a 5xx or a dropped connection: it is a POST, but creates nothing', async () => {
    fake.failNext('/v1/tokens/exchange', {status: 503})
    fake.failNext('/v1/tokens/exchange', {destroySocket: true})
    const app = await getApp(client(), 'my-app')
    expect(app.name).to.equal('my-app')
    // The dropped answer never finished, so it has no recorded status.
    expect(fake.requestsTo('POST', '/v1/tokens/exchange').map((r) => r.status)).to.deep.equal([503, undefined, 200])
  })

  it('says which route a 404 without a resource name is for (a wrong SCALINGO_API_URL), still exit 4', async () => {
    const error = await caught(client().get('/v1/no-such-route'))
    expect(error).to.be.instanceOf(ResourceNotFoundError)
    expect(error.exitCode).to.equal(ExitCode.NotFound)
    expect(error.message).to.equal(
      `The Scalingo API at ${new URL(fake.url).host} has no GET /v1/no-such-route (HTTP 404).`,
    )
    expect(error.suggestions.join(' ')).to.include('SCALINGO_API_URL')
  })

  it('maps 404 to exit 4 naming the resource and the region', async () => {
    const error = await caught(getApp(client(), 'nope'))
    expect(error).to.be.instanceOf(ResourceNotFoundError)
    expect(error.exitCode).to.equal(ExitCode.NotFound)
    expect(error.message).to.equal(`App 'nope' not found in region osc-fr1 (${new URL(fake.url).host}).`)
    expect(error.suggestions.join(' ')).to.include('--region')
  })

  it("lists each field's messages on 422", async () => {
    fake.failNext('/v1/apps/my-app', {
      status: 422,
      body: {errors: {name: ['is too long', 'is invalid'], app: ['missing field']}},
    })
    const error = await caught(getApp(client(), 'my-app'))
    expect(error).to.be.instanceOf(ValidationError)
    expect(error.exitCode).to.equal(ExitCode.Error)
    expect(error.message).to.include('\n  name: is too long, is invalid\n  app: missing field')
  })

  it("shows the platform's own message and url on 402", async () => {
    fake.failNext('/v1/apps/my-app', {
      status: 402,
      body: {error: 'Sorry, you need to verify your account', url: 'https://my.scalingo.com/apps/billing'},
    })
    const error = await caught(getApp(client(), 'my-app'))
    expect(error).to.be.instanceOf(ForbiddenError)
    expect(error.message).to.equal('Sorry, you need to verify your account')
    expect(error.suggestions).to.deep.equal(['See https://my.scalingo.com/apps/billing'])
  })

  it('retries a GET after 429 and succeeds', async () => {
    fake.failNext('/v1/apps/my-app/variables', {status: 429, body: 'Retry later', times: 2})
    const variables = await listVariables(client(), 'my-app')
    expect(variables.map((v) => v.name)).to.deep.equal(['A'])
    expect(fake.requestsTo('GET', '/v1/apps/my-app/variables').map((r) => r.status)).to.deep.equal([429, 429, 200])
    expect(logs.filter((l) => l.startsWith('retrying in'))).to.have.length(2)
  })

  it('gives up on 429 forever after the configured retries', async () => {
    fake.failNext('/v1/apps/my-app', {status: 429, body: 'Retry later', times: Infinity})
    const error = await caught(getApp(client({SCALINGO_TCP_HTTP_RETRIES: '2'}), 'my-app'))
    expect(error).to.be.instanceOf(RateLimitError)
    expect(error.message).to.include('after 3 attempts')
    expect(fake.requestsTo('GET', '/v1/apps/my-app')).to.have.length(3)
  })

  it('never retries a POST', async () => {
    fake.failNext('/v1/apps/my-app/restart', {status: 503, times: Infinity})
    const error = await caught(client().post('/v1/apps/my-app/restart', {scope: ['tcp']}))
    expect(error).to.be.instanceOf(ServerError)
    expect(fake.requestsTo('POST', '/v1/apps/my-app/restart')).to.have.length(1)
  })

  it('maps 500 to a server error with the platform message', async () => {
    fake.failNext('/v1/apps/my-app', {
      status: 500,
      body: {error: "Internal error occured, we're on it!"},
      times: Infinity,
    })
    const error = await caught(getApp(client({SCALINGO_TCP_HTTP_RETRIES: '1'}), 'my-app'))
    expect(error).to.be.instanceOf(ServerError)
    expect(error.message).to.equal(
      "The Scalingo API failed with HTTP 500: Internal error occured, we're on it! after 2 attempts (GET /v1/apps/my-app).",
    )
  })

  it('reports a body that is not JSON', async () => {
    fake.failNext('/v1/apps/my-app', {invalidJson: true})
    const error = await caught(getApp(client(), 'my-app'))
    expect(error).to.be.instanceOf(InvalidResponseError)
    expect(error.message).to.include('not JSON')
  })

  it('retries when the connection drops mid-response, then reports it', async () => {
    fake.failNext('/v1/apps/my-app/variables', {destroySocket: true, times: Infinity})
    const error = await caught(listVariables(client({SCALINGO_TCP_HTTP_RETRIES: '1'}), 'my-app'))
    expect(error).to.be.instanceOf(NetworkError)
    expect(error.code).to.equal('CONNECTION_FAILED')
    expect(error.message).to.include('after 2 attempts')
    expect(fake.requestsTo('GET', '/v1/apps/my-app/variables')).to.have.length(2)
  })

  it('recovers when one dropped connection is followed by a good answer', async () => {
    fake.failNext('/v1/apps/my-app/variables', {destroySocket: true})
    const variables = await listVariables(client(), 'my-app')
    expect(variables).to.have.length(1)
  })

  it('times out a slow response after SCALINGO_TCP_HTTP_TIMEOUT ms', async () => {
    fake.failNext('/v1/apps/my-app', {delayMs: 5000, times: Infinity})
    const started = Date.now()
    const error = await caught(
      getApp(client({SCALINGO_TCP_HTTP_TIMEOUT: '150', SCALINGO_TCP_HTTP_RETRIES: '0'}), 'my-app'),
    )
    expect(error).to.be.instanceOf(NetworkError)
    expect(error.code).to.equal('API_TIMEOUT')
    expect(error.message).to.include('did not answer within 150 ms')
    // Gave up long before the slow answer would have come.
    expect(Date.now() - started).to.be.below(4000)
  })

  describe('with an unreachable host', () => {
    let closedPort: number
    before(async () => {
      // A port that was just free: nothing listens there any more.
      const server: Server = createServer()
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      closedPort = (server.address() as {port: number}).port
      await new Promise((resolve) => server.close(resolve))
    })

    it('reports the host it could not reach', async () => {
      const c = new ScalingoClient({
        env: {
          SCALINGO_AUTH_URL: `http://127.0.0.1:${closedPort}`,
          SCALINGO_API_TOKEN: TOKEN,
          SCALINGO_TCP_RETRY_BASE_MS: '1',
          SCALINGO_TCP_CONFIG_DIR: configDir,
        },
        region: {name: 'osc-fr1', apiUrl: `http://127.0.0.1:${closedPort}`, source: 'default'},
      })
      const error = await caught(c.get('/v1/regions', {service: 'auth', auth: 'none'}))
      expect(error).to.be.instanceOf(NetworkError)
      expect(error.exitCode).to.equal(ExitCode.Error)
      expect(error.message).to.equal(
        `Could not reach the Scalingo API at 127.0.0.1:${closedPort} (ECONNREFUSED) after 4 attempts.`,
      )
    })
  })

  it('logs requests and responses in debug mode without the token or the JWT', async () => {
    await listVariables(client(), 'my-app')
    const jwt = fake.requestsTo('GET', '/v1/apps/my-app/variables')[0].headers.authorization!.replace('Bearer ', '')
    const all = logs.join('\n')
    expect(all).to.include('--> POST')
    expect(all).to.include('<-- 200 GET')
    expect(all).to.include('authorization: Bearer [REDACTED]')
    expect(all).to.not.include(TOKEN)
    expect(all).to.not.include(jwt)
  })
})
