import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, ROOT, runCli, unwrap} from '../support/cli.js'
import {FakeScalingo, gitRepo, scalingoCliAuthFile} from '../support/fake-scalingo.js'
import {usePlatform} from '../support/platform.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

/** Values chosen to break naive printing and quoting. */
const VARIABLES: Record<string, string> = {
  TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20003',
  SPACES: 'a value  with spaces ',
  QUOTES: `it's "double" and 'single'`,
  EQUALS: 'a=b==c',
  DOLLAR: '$HOME ${PATH} `id` $(id) \\n',
  NEWLINES: 'line 1\nline 2\n',
  EMPTY: '',
  SCALINGO_MONGO_URL: 'mongodb://user:pass@host:27017/db',
  MONGO_URL: '$SCALINGO_MONGO_URL',
}
const SORTED_NAMES = Object.keys(VARIABLES).sort()

describe('env', () => {
  let fake: FakeScalingo
  let home: string
  const outputs: string[] = []
  const dirs: string[] = []

  before(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    fake.addApp('my-app', {variables: VARIABLES})
    fake.addApp('secnum-app', {region: 'osc-secnum-fr1', variables: {WHERE: 'secnum'}})
    fake.addApp('odd-names', {
      variables: {'X;touch pwned;Y': 'v', 'BASH_FUNC_f%%': '() { touch pwned; }', '1ST': 'x', OK: 'fine'},
    })
    home = mkdtempSync(join(tmpdir(), 'scalingo-tcp-env-home-'))
    dirs.push(home)
  })

  after(async () => {
    await fake.stop()
    for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
  })

  afterEach(() => fake.clearFailures())

  async function cli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<CliResult> {
    const result = await runCli(args, {
      cwd,
      env: {HOME: home, ...fake.env(), SCALINGO_API_TOKEN: TOKEN, SCALINGO_TCP_RETRY_BASE_MS: '5', ...env},
    })
    outputs.push(result.stdout, result.stderr)
    return result
  }

  function expectCleanError(result: CliResult, code: number, message: string | RegExp) {
    expect(result.code, result.stderr).to.equal(code)
    expect(result.stdout).to.equal('')
    const stderr = unwrap(result.stderr)
    if (typeof message === 'string') expect(stderr).to.include(message)
    else expect(stderr).to.match(message)
    expect(result.stderr).to.not.match(/\n\s+at /)
  }

  it('prints every variable as NAME=value, sorted, byte for byte, aliases unresolved', async () => {
    const result = await cli(['env', '-a', 'my-app'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal(SORTED_NAMES.map((n) => `${n}=${VARIABLES[n]}\n`).join(''))
    expect(result.stdout).to.include('MONGO_URL=$SCALINGO_MONGO_URL\n')
    expect(result.stderr).to.equal('')
    const [request] = fake.requestsTo('GET', '/v1/apps/my-app/variables').slice(-1)
    expect(request.query.get('aliases')).to.equal('true')
  })

  it('prints --shell lines that a real /bin/sh evaluates back to the exact values', async () => {
    const result = await cli(['env', '-a', 'my-app', '--shell'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout.split('\n')[0]).to.equal("export DOLLAR='$HOME ${PATH} `id` $(id) \\n'")
    const script = `${result.stdout}\nprintf '%s\\0' ${SORTED_NAMES.map((n) => `"$${n}"`).join(' ')}`
    const shell = spawnSync('/bin/sh', ['-c', script], {encoding: 'utf8', env: {PATH: process.env.PATH}})
    expect(shell.status, shell.stderr).to.equal(0)
    expect(shell.stdout.split('\0').slice(0, -1)).to.deep.equal(SORTED_NAMES.map((n) => VARIABLES[n]))
  })

  it('--shell leaves out the names a shell cannot hold (a warning on stderr says how many), so eval in bash runs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-env-eval-'))
    dirs.push(dir)
    const result = await cli(['env', '-a', 'odd-names', '--shell'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal("export OK='fine'\n")
    expect(unwrap(result.stderr)).to.include('3 variables were left out of --shell')
    const bash = spawnSync('bash', ['-c', `eval "$1" && printf '%s' "$OK"`, 'bash', result.stdout], {
      cwd: dir,
      encoding: 'utf8',
      env: {PATH: process.env.PATH},
    })
    expect(bash.status, bash.stderr).to.equal(0)
    expect(bash.stdout).to.equal('fine')
    expect(existsSync(join(dir, 'pwned'))).to.equal(false)
  })

  it('prints --json as an object of every variable', async () => {
    const result = await cli(['env', '-a', 'my-app', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(JSON.parse(result.stdout)).to.deep.equal(VARIABLES)
  })

  it('prints a single variable with its alias resolved, and only its value', async () => {
    const result = await cli(['env', 'MONGO_URL', '-a', 'my-app'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('mongodb://user:pass@host:27017/db\n')
    const [request] = fake.requestsTo('GET', '/v1/apps/my-app/variables').slice(-1)
    expect(request.query.get('aliases')).to.equal('false')
    expect((await cli(['env', 'NEWLINES', '-a', 'my-app'])).stdout).to.equal('line 1\nline 2\n\n')
  })

  it('with NAME, --shell prints its one export line and --json its one key, alias resolved', async () => {
    expect((await cli(['env', 'MONGO_URL', '-a', 'my-app', '--shell'])).stdout).to.equal(
      "export MONGO_URL='mongodb://user:pass@host:27017/db'\n",
    )
    expect(JSON.parse((await cli(['env', 'QUOTES', '-a', 'my-app', '--json'])).stdout)).to.deep.equal({
      QUOTES: VARIABLES.QUOTES,
    })
  })

  it('exits 4 with a message on stderr when the variable is not set', async () => {
    const result = await cli(['env', 'NOPE', '-a', 'my-app'])
    expectCleanError(result, 4, 'Variable NOPE is not set on app my-app (region osc-fr1).')
  })

  it('works in-process too', async () => {
    const saved = {...process.env}
    Object.assign(process.env, {HOME: home, ...fake.env(), SCALINGO_API_TOKEN: TOKEN})
    try {
      const {stdout, error, result} = await runCommand<Record<string, string>>(['env', 'TCP_URL', '-a', 'my-app'], {
        root: ROOT,
      })
      expect(error).to.equal(undefined)
      expect(stdout).to.equal('tcp://tcp-1.osc-fr1.scalingo.com:20003\n')
      expect(result).to.deep.equal({TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20003'})
      const missing = await runCommand(['env', 'NOPE', '-a', 'my-app'], {root: ROOT})
      expect(missing.error?.oclif?.exit).to.equal(4)
      outputs.push(stdout, missing.stdout, missing.stderr)
    } finally {
      process.env = saved
    }
  })

  describe('from a real git repository', () => {
    let repo: string
    before(() => {
      repo = gitRepo({scalingo: 'git@ssh.osc-secnum-fr1.scalingo.com:secnum-app.git'})
      dirs.push(repo)
    })

    it("detects the app and the remote's region (no SCALINGO_API_URL: the region's API host is used)", async () => {
      const result = await cli(['env'], {SCALINGO_API_URL: undefined, SCALINGO_REGION: 'osc-fr1'}, repo)
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal('WHERE=secnum\n')
      expect(fake.requestsTo('GET', '/v1/apps/secnum-app/variables').slice(-1)[0].region).to.equal('osc-secnum-fr1')
    })

    it('--region wins over the remote, and the 404 names the region tried', async () => {
      const result = await cli(['env', '--region', 'osc-fr1'], {SCALINGO_API_URL: undefined}, repo)
      expectCleanError(result, 4, `App 'secnum-app' not found in region osc-fr1`)
    })

    it('reports the detected region in a 404 even when SCALINGO_API_URL is set', async () => {
      const result = await cli(['env', '-a', 'missing-app'], {}, repo)
      expectCleanError(result, 4, `App 'missing-app' not found in region osc-secnum-fr1 (${new URL(fake.url).host}).`)
    })

    it('exits 2 explaining how to name the app outside a repository with a Scalingo remote', async () => {
      const empty = mkdtempSync(join(tmpdir(), 'scalingo-tcp-noapp-'))
      dirs.push(empty)
      const result = await cli(['env'], {}, empty)
      expectCleanError(result, 2, 'No app specified and none could be detected.')
      expect(result.stderr).to.include('-a/--app')
    })
  })

  describe('token sources', () => {
    it("uses the Scalingo CLI's login when nothing else is set", async () => {
      const cliHome = mkdtempSync(join(tmpdir(), 'scalingo-tcp-clihome-'))
      dirs.push(cliHome)
      mkdirSync(join(cliHome, '.config', 'scalingo'), {recursive: true})
      writeFileSync(join(cliHome, '.config', 'scalingo', 'auth'), scalingoCliAuthFile('127.0.0.1', TOKEN), {
        mode: 0o700,
      })
      const result = await cli(['env', 'TCP_URL', '-a', 'my-app'], {HOME: cliHome, SCALINGO_API_TOKEN: undefined})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal('tcp://tcp-1.osc-fr1.scalingo.com:20003\n')
    })

    it('exits 3 saying how to log in when no token is found', async () => {
      const result = await cli(['env', '-a', 'my-app'], {SCALINGO_API_TOKEN: undefined})
      expectCleanError(result, 3, 'Not logged in: no Scalingo API token found.')
      expect(result.stderr).to.include('scalingo-tcp scalingo:login')
    })
  })

  describe('API errors as exit codes, with clear messages and no stack trace', () => {
    it('401: an invalid token exits 3', async () => {
      const result = await cli(['env', '-a', 'my-app'], {SCALINGO_API_TOKEN: 'tk-us-not-a-valid-token'})
      expectCleanError(result, 3, 'The Scalingo API rejected the API token (API token from SCALINGO_API_TOKEN)')
    })

    it('422 lists the field messages and exits 1', async () => {
      fake.failNext('/v1/apps/my-app/variables', {status: 422, body: {errors: {app: ['missing field']}}})
      expectCleanError(await cli(['env', '-a', 'my-app']), 1, 'app: missing field')
    })

    it('429 then success prints the variables', async () => {
      fake.failNext('/v1/apps/my-app/variables', {status: 429, body: 'Retry later'})
      const result = await cli(['env', 'EQUALS', '-a', 'my-app'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal('a=b==c\n')
    })

    it('429 forever exits 1 after the retries', async () => {
      fake.failNext('/v1/apps/my-app/variables', {status: 429, body: 'Retry later', times: Infinity})
      expectCleanError(
        await cli(['env', '-a', 'my-app'], {SCALINGO_TCP_HTTP_RETRIES: '1'}),
        1,
        'rate limiting requests (HTTP 429) after 2 attempts',
      )
    })

    it('500 exits 1', async () => {
      fake.failNext('/v1/apps/my-app/variables', {status: 500, body: {error: 'boom'}, times: Infinity})
      expectCleanError(await cli(['env', '-a', 'my-app'], {SCALINGO_TCP_HTTP_RETRIES: '0'}), 1, 'HTTP 500: boom')
    })

    it('invalid JSON exits 1', async () => {
      fake.failNext('/v1/apps/my-app/variables', {invalidJson: true})
      expectCleanError(await cli(['env', '-a', 'my-app']), 1, 'not JSON')
    })

    it('a connection dropped mid-response exits 1', async () => {
      fake.failNext('/v1/apps/my-app/variables', {destroySocket: true, times: Infinity})
      expectCleanError(
        await cli(['env', '-a', 'my-app'], {SCALINGO_TCP_HTTP_RETRIES: '0'}),
        1,
        'The connection to the Scalingo API',
      )
    })

    it('a response slower than SCALINGO_TCP_HTTP_TIMEOUT exits 1', async () => {
      fake.failNext('/v1/apps/my-app/variables', {delayMs: 2000, times: Infinity})
      const result = await cli(['env', '-a', 'my-app'], {
        SCALINGO_TCP_HTTP_TIMEOUT: '200',
        SCALINGO_TCP_HTTP_RETRIES: '0',
      })
      expectCleanError(result, 1, 'did not answer within 200 ms')
    })

    it('an unreachable host exits 1', async () => {
      const result = await cli(['env', '-a', 'my-app'], {
        SCALINGO_API_URL: 'http://127.0.0.1:9',
        SCALINGO_TCP_HTTP_RETRIES: '0',
      })
      expectCleanError(result, 1, 'Could not reach the Scalingo API at 127.0.0.1:9')
    })

    it('a SCALINGO_API_URL without its scheme exits 2 naming the variable', async () => {
      const result = await cli(['env', '-a', 'my-app'], {SCALINGO_API_URL: new URL(fake.url).host})
      expectCleanError(result, 2, `SCALINGO_API_URL is not an http(s) URL: ${new URL(fake.url).host}`)
    })

    it('--json errors are JSON on stdout with the exit code', async () => {
      const result = await cli(['env', 'NOPE', '-a', 'my-app', '--json'])
      expect(result.code).to.equal(4)
      expect(JSON.parse(result.stdout).error).to.deep.include({code: 'NOT_FOUND', exitCode: 4})
    })
  })

  it('--debug logs requests and responses on stderr, stdout keeps only the data', async () => {
    const result = await cli(['env', 'EQUALS', '-a', 'my-app', '--debug'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('a=b==c\n')
    expect(result.stderr).to.include('<-- 200 GET').and.include('Bearer [REDACTED]')
    // The JWT comes from the exchange, or from the cache an earlier test in this HOME filled.
    expect(result.stderr).to.match(/--> POST \S+\/v1\/tokens\/exchange|JWT from the cache /)
    const viaEnv = await cli(['env', 'EQUALS', '-a', 'my-app'], {DEBUG: 'scalingo-tcp'})
    expect(viaEnv.stderr).to.include('--> GET')
  })

  it('never shows the API token or any JWT in any output', () => {
    const all = outputs.join('\n')
    expect(all.length).to.be.above(1000)
    expect(fake.jwts.size).to.be.above(0)
    expect(all).to.not.include(TOKEN)
    for (const jwt of fake.jwts.keys()) expect(all).to.not.include(jwt)
  })
})

describe('env reuses the JWT between commands (JWT cache)', () => {
  const platform = usePlatform(
    'scalingo-tcp-env-jwt-home-',
    (fake) => {
      fake.addUser(TOKEN)
      fake.addApp('my-app', {variables: {TCP_URL: VARIABLES.TCP_URL}})
    },
    {env: {SCALINGO_API_TOKEN: TOKEN}},
  )

  const cli = (args: string[], env: Record<string, string> = {}, input?: string) => platform.cli(args, {input, env})
  const exchanges = () => platform.fake.requestsTo('POST', '/v1/tokens/exchange').length
  const cachePath = () => platform.configFile('jwt-cache.json')

  it('a second `env -a` makes no token exchange; a refused cached JWT is replaced; nothing secret is printed', async () => {
    const first = await cli(['env', '-a', 'my-app'])
    expect(first.code, first.stderr).to.equal(0)
    expect(exchanges()).to.equal(1)
    expect(statSync(cachePath()).mode & 0o777).to.equal(0o600)

    const second = await cli(['env', '-a', 'my-app', '--debug'])
    expect(second.code, second.stderr).to.equal(0)
    expect(second.stdout).to.equal(first.stdout).and.equal(`TCP_URL=${VARIABLES.TCP_URL}\n`)
    expect(exchanges()).to.equal(1)
    expect(second.stderr).to.include(`JWT from the cache ${cachePath()}`)

    platform.fake.revokeJwts()
    const third = await cli(['env', '-a', 'my-app', '--debug'])
    expect(third.code, third.stderr).to.equal(0)
    expect(third.stdout).to.equal(first.stdout)
    expect(exchanges()).to.equal(2)
    expect(third.stderr).to.include('JWT refused (401)').and.include(`JWT saved to the cache ${cachePath()}`)

    const all = [first, second, third].flatMap((r) => [r.stdout, r.stderr]).join('\n')
    expect(all).to.not.include(TOKEN)
    for (const jwt of platform.fake.jwts.keys()) expect(all).to.not.include(jwt)
  })

  it('runs from one bundled file (scripts/bundle-commands.js) whose module paths still resolve', () => {
    const bundle = readFileSync(join(ROOT, 'dist', 'commands', 'env.js'), 'utf8')
    expect(bundle)
      .to.not.match(/\bfrom\s*["']\.{1,2}\//)
      .and.not.match(/\bimport\(\s*["']\.{1,2}\//)
    // The version comes from package.json, found from client.js's own location (import.meta.url rewritten).
    const {version} = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    const agents = platform.fake.requests.map((r) => r.headers['user-agent'])
    expect(agents).to.have.length.above(0)
    for (const agent of agents) expect(agent).to.equal(`scalingo-tcp/${version}`)
  })

  it('never takes NAME from stdin: piped input does not change what is printed', async () => {
    const result = await cli(['env', '-a', 'my-app'], {}, 'NOPE\n')
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal(`TCP_URL=${VARIABLES.TCP_URL}\n`)
  })

  it('scalingo:logout removes the cache', async () => {
    expect(existsSync(cachePath())).to.equal(true)
    const result = await cli(['scalingo:logout'])
    expect(result.code, result.stderr).to.equal(0)
    expect(existsSync(cachePath())).to.equal(false)
  })
})
