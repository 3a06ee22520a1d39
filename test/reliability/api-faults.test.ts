import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {join} from 'node:path'

import {type CliResult, runCli, unwrap} from '../support/cli.js'
import {FakeScalingo, type FailureOptions, type RecordedRequest} from '../support/fake-scalingo.js'
import {usePlatform} from '../support/platform.js'
import {report} from '../support/reliability.js'
import {pool} from '../support/sockets.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const HTTP_TIMEOUT_MS = 800

/** Every command that talks to the API, with the arguments that make it run without a terminal. */
const COMMANDS: Record<string, (app: string) => string[]> = {
  env: (app) => ['env', '-a', app],
  'addons:tcp:info': (app) => ['addons:tcp:info', '-a', app],
  'addons:tcp:restart': (app) => ['addons:tcp:restart', '-a', app],
  'addons:tcp:create': (app) => ['addons:tcp:create', '-a', app],
  'addons:tcp:destroy': (app) => ['addons:tcp:destroy', '-a', app, '--confirm', app],
  'scalingo:login': () => ['scalingo:login', '--api-token-stdin'],
}

/** The requests each command's faults apply to: login talks to the auth API, the others to the app's routes. */
function faultedRequests(command: string, app: string): (req: RecordedRequest) => boolean {
  if (command === 'scalingo:login')
    return (req) => req.path.startsWith('/v1/tokens/') || req.path.startsWith('/v1/users/')
  return (req) => req.path === `/v1/apps/${app}` || req.path.startsWith(`/v1/apps/${app}/`)
}

/** Nothing waits longer than this: the HTTP timeout times the retries, far below runCli's 30 s kill. */
const WITHIN_MS = 15_000

/** Each fault, applied to every request about the app, and what the user must read. */
const FAULTS: Record<string, {failure: FailureOptions; message: RegExp}> = {
  slow: {failure: {delayMs: HTTP_TIMEOUT_MS * 3}, message: /did not answer within 800 ms/},
  '5xx': {
    failure: {status: 503, body: {error: 'upstream unavailable'}},
    message: /Scalingo API .*(HTTP 503|server error|unavailable)/i,
  },
  '429': {failure: {status: 429, body: 'Retry later'}, message: /rate limiting requests \(HTTP 429\)/},
  'invalid JSON': {failure: {invalidJson: true}, message: /not JSON/},
  'missing fields': {
    failure: {status: 200, body: {}},
    message: /has no `(variables|addons|plans)` array|token exchange returned no token/,
  },
  'dropped mid-response': {
    failure: {destroySocket: true},
    message: /connection to the Scalingo API .* failed|closed|ECONNRESET/i,
  },
}

describe('reliability: API faults', function () {
  this.timeout(60_000)
  const shared = usePlatform('scalingo-tcp-api-faults-', (fake) => fake.addUser(TOKEN))

  const platforms: FakeScalingo[] = []
  async function ownPlatform(): Promise<FakeScalingo> {
    const own = new FakeScalingo()
    platforms.push(own)
    await own.start()
    own.addUser(TOKEN)
    return own
  }

  after(() => Promise.all(platforms.map((own) => own.stop())))

  it('every API command ends with a clear message and exit 1 within its timeout, whatever the API does', async () => {
    const cases = Object.keys(COMMANDS).flatMap((command) => Object.keys(FAULTS).map((fault) => ({command, fault})))
    const results = await pool(cases.length, 6, async (i) => {
      const {command, fault} = cases[i]
      const app = `faulty-${i}`
      shared.fake.addApp(app)
      shared.fake.setFormation(app, [{name: 'tcp', amount: 1}])
      if (command !== 'addons:tcp:create') shared.fake.addTcpAddon(app)
      // login's faults hit the token exchange every other command also needs: it gets a platform of its own.
      const platform = command === 'scalingo:login' ? await ownPlatform() : shared.fake
      platform.failNext(faultedRequests(command, app), {...FAULTS[fault].failure, times: Infinity})
      const started = Date.now()
      const result = await runCli(COMMANDS[command](app), {
        timeoutMs: 30_000,
        input: command === 'scalingo:login' ? `${TOKEN}\n` : undefined,
        env: {
          HOME: command === 'scalingo:login' ? mkdtempSync(join(shared.home, 'login-')) : shared.home,
          ...platform.env(),
          SCALINGO_API_TOKEN: command === 'scalingo:login' ? undefined : TOKEN,
          SCALINGO_TCP_RETRY_BASE_MS: '5',
          SCALINGO_TCP_HTTP_TIMEOUT: String(HTTP_TIMEOUT_MS),
        },
      })
      return {command, fault, result, ms: Date.now() - started}
    })

    const problems: string[] = []
    const check = (ok: boolean, label: string, result: CliResult) => {
      if (!ok)
        problems.push(
          `${label}: exit ${result.code}/${result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
        )
    }

    for (const {command, fault, result, ms} of results) {
      const label = `${command} / ${fault}`
      // The platform's answer to a restart carries nothing the command needs: an empty object is a success.
      if (command === 'addons:tcp:restart' && fault === 'missing fields') {
        check(result.code === 0 && /requested/.test(result.stderr), label, result)
        continue
      }

      const stderr = unwrap(result.stderr)
      check(result.signal === null, `${label} hung (killed)`, result)
      check(ms < WITHIN_MS, `${label} took ${ms} ms`, result)
      check(result.code === 1, `${label} exit code`, result)
      check(FAULTS[fault].message.test(stderr), `${label} message`, result)
      check(!/\n\s+at /.test(result.stderr), `${label} stack trace`, result)
      check(!result.stderr.includes(TOKEN) && !result.stdout.includes(TOKEN), `${label} token leaked`, result)
    }

    report('API faults', {
      runs: results.length,
      slowestMs: Math.max(...results.map((r) => r.ms)),
      problems: problems.length,
    })
    expect(problems, problems.join('\n\n')).to.deep.equal([])
  })
})
