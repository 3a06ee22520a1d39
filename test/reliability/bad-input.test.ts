import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseDuration} from '../../src/lib/duration.js'
import {UsageError} from '../../src/lib/errors.js'
import {parseFormation} from '../../src/lib/procfile/formation.js'
import {parseUpstream} from '../../src/lib/proxy/options.js'
import {runCli, unwrap} from '../support/cli.js'
import {FakeScalingo} from '../support/fake-scalingo.js'
import {randomText, seededRandom} from '../lib/procfile/fuzz.js'
import {pool} from '../support/sockets.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const ECHO = 'tcp: node -e "0"\n'

interface Case {
  name: string
  args: string[]
  files?: Record<string, string | Buffer>
  code: number
  /** What the message must name. */
  message: RegExp
  env?: Record<string, string | undefined>
}

const CASES: Case[] = [
  {name: 'Procfile missing', args: ['tcp:proxy'], code: 1, message: /No Procfile found at .*Procfile/},
  {name: 'Procfile empty', args: ['tcp:proxy'], files: {Procfile: ''}, code: 1, message: /Procfile.*empty|no process/i},
  {
    name: 'Procfile binary',
    args: ['tcp:proxy'],
    files: {Procfile: randomBytes(4096)},
    code: 1,
    message: /Procfile contains binary data/,
  },
  {
    name: 'Procfile huge',
    args: ['tcp:proxy'],
    files: {Procfile: `tcp: ${'x'.repeat(12 * 1024 * 1024)}\n`},
    code: 1,
    message: /Procfile.*(too large|large|MiB|bytes)/i,
  },
  {
    name: 'Procfile line without a colon',
    args: ['tcp:proxy'],
    files: {Procfile: `${ECHO}just a command\n`},
    code: 1,
    message: /line 2/,
  },
  {
    name: 'Procfile duplicate name',
    args: ['tcp:proxy'],
    files: {Procfile: `${ECHO}${ECHO}`},
    code: 1,
    message: /tcp.*(twice|duplicate|more than once)/i,
  },
  {
    name: 'Procfile invalid name',
    args: ['tcp:proxy'],
    files: {Procfile: `${ECHO}we b!: node x\n`},
    code: 1,
    message: /we b!/,
  },
  {
    name: 'Procfile without tcp type',
    args: ['tcp:proxy'],
    files: {Procfile: 'web: node x\n'},
    code: 1,
    message: /no `tcp` process type/,
  },
  {
    name: '.env unterminated quote',
    args: ['tcp:proxy'],
    files: {Procfile: ECHO, '.env': 'A="never closed\n'},
    code: 1,
    message: /\.env line 1: unterminated " quote/,
  },
  {
    name: '.env invalid name',
    args: ['tcp:proxy'],
    files: {Procfile: ECHO, '.env': '1BAD=x\n'},
    code: 1,
    message: /1BAD/,
  },
  {
    name: 'port out of range',
    args: ['tcp:proxy', '--port', '70000'],
    files: {Procfile: ECHO},
    code: 2,
    message: /port.*65535|70000/i,
  },
  {name: 'negative port', args: ['tcp:proxy', '--port=-1'], files: {Procfile: ECHO}, code: 2, message: /port/i},
  {
    name: '--web-port out of range',
    args: ['tcp:proxy', '--web-port', '70000'],
    files: {Procfile: ECHO},
    code: 2,
    message: /--web-port.*65535/,
  },
  {
    name: '--web-port too high for its web instances',
    args: ['tcp:proxy', '--web-port', '65535', '-m', 'web=2'],
    files: {Procfile: `${ECHO}web: node -e "0"\n`},
    code: 2,
    message: /--web-port 65535 with 2 web instances would put web-2 on port 65536.*--formation web=1/,
  },
  {
    name: '--upstream port out of range',
    args: ['tcp:proxy', '--upstream', '127.0.0.1:70000'],
    code: 2,
    message: /--upstream "127\.0\.0\.1:70000".*between 1 and 65535/,
  },
  {
    name: 'formation that does not parse',
    args: ['tcp:proxy', '-m', 'tcp=two'],
    files: {Procfile: ECHO},
    code: 2,
    message: /two/,
  },
  {
    name: '--formation entry that does not parse',
    args: ['tcp:proxy', '--formation', 'tcp=1,='],
    files: {Procfile: ECHO},
    code: 2,
    message: /formation entry "="/,
  },
  {name: 'negative count', args: ['tcp:proxy', '-m', 'tcp=-1'], files: {Procfile: ECHO}, code: 2, message: /-1/},
  {
    name: 'negative --max-crashes',
    args: ['tcp:proxy', '--max-crashes=-1'],
    files: {Procfile: ECHO},
    code: 2,
    message: /max-crashes/,
  },
  {
    name: 'grace that does not parse',
    args: ['tcp:proxy', '--grace', 'soon'],
    files: {Procfile: ECHO},
    code: 2,
    message: /"soon"/,
  },
  {name: 'negative grace', args: ['tcp:proxy', '--grace=-5s'], files: {Procfile: ECHO}, code: 2, message: /"-5s"/},
  {
    name: 'idle timeout that does not parse',
    args: ['tcp:proxy', '--idle-timeout', '5 minutes'],
    files: {Procfile: ECHO},
    code: 2,
    message: /"5 minutes"/,
  },
  {
    name: '--max-connections 0',
    args: ['tcp:proxy', '--max-connections', '0'],
    files: {Procfile: ECHO},
    code: 2,
    message: /max-connections/,
  },
  {
    name: 'unknown --max-connections-mode',
    args: ['tcp:proxy', '--max-connections-mode', 'drop'],
    files: {Procfile: ECHO},
    code: 2,
    message: /max-connections-mode/,
  },
  {
    name: 'upstream without a port',
    args: ['tcp:proxy', '--upstream', 'localhost'],
    code: 2,
    message: /--upstream "localhost"/,
  },
  {name: 'app that does not exist', args: ['env', '-a', 'no-such-app'], code: 4, message: /no-such-app/},
  {
    name: 'region that does not exist',
    args: ['env', '-a', 'my-app', '--region', 'mars-1'],
    code: 2,
    message: /Unknown region 'mars-1'/,
    // Regions are looked up (and checked) only when no SCALINGO_API_URL overrides the regional host.
    env: {SCALINGO_API_URL: undefined},
  },
]

describe('reliability: bad input', function () {
  this.timeout(60_000)
  let fake: FakeScalingo
  const dirs: string[] = []

  before(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    fake.addApp('my-app')
  })

  after(async () => {
    await fake.stop()
    for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
  })

  it('each bad input gets a clear error naming what is wrong, a non-zero exit and no stack trace', async () => {
    const results = await pool(CASES.length, 6, async (i) => {
      const {args, files = {}, env = {}} = CASES[i]
      const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-bad-input-'))
      dirs.push(dir)
      for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
      return runCli(args, {
        cwd: dir,
        timeoutMs: 20_000,
        env: {HOME: dir, ...fake.env(), SCALINGO_API_TOKEN: TOKEN, ...env},
      })
    })

    const problems: string[] = []
    for (const [i, result] of results.entries()) {
      const {name, code, message} = CASES[i]
      const stderr = unwrap(result.stderr)
      const show = (what: string) =>
        problems.push(
          `${name}: ${what}\n  exit ${result.code}/${result.signal}\n  stderr: ${result.stderr.slice(0, 600)}`,
        )
      if (result.code !== code) show(`exit code should be ${code}`)
      if (!message.test(stderr)) show(`message should match ${message}`)
      if (/\n\s+at /.test(result.stderr) || /\n\s+at /.test(result.stdout)) show('stack trace')
      if (result.stdout.length > 0) show(`stdout should be empty: ${result.stdout.slice(0, 200)}`)
    }

    expect(problems, problems.join('\n')).to.deep.equal([])
  })

  describe('parsers never throw anything but a UsageError (seeded fuzz)', () => {
    function fuzz(seed: number, fragments: string[], parse: (text: string) => unknown): number {
      const random = seededRandom(seed)
      let accepted = 0
      for (let i = 0; i < 5000; i++) {
        const text = randomText(random, fragments, 8)
        try {
          parse(text)
          accepted++
        } catch (error) {
          if (!(error instanceof UsageError))
            throw new Error(`${JSON.stringify(text)} threw ${String(error)}`, {cause: error})
          expect(error.message).to.not.equal('')
        }
      }

      return accepted
    }

    it('--upstream: a host and a port from 1 to 65535, or an error', () => {
      const accepted = fuzz(
        17,
        [
          '127.0.0.1',
          'localhost',
          '[::1]',
          '[',
          ']',
          ':',
          '0',
          '1',
          '65535',
          '65536',
          '99999999999999999999',
          ' ',
          '-',
          'é',
          '\n',
          '::',
        ],
        (text) => {
          const {host, port} = parseUpstream(text)
          expect(port).to.be.within(1, 65_535)
          expect(Number.isInteger(port)).to.equal(true)
          expect(host).to.be.a('string').and.not.equal('')
        },
      )
      expect(accepted).to.be.above(50)
    })

    it('durations and formations', () => {
      expect(
        fuzz(23, ['1', '0', '.', '5', 'ms', 's', 'm', 'h', 'd', ' ', '-', 'e9', '99999999999'], (text) => {
          const ms = parseDuration(text)
          expect(Number.isSafeInteger(ms) && ms >= 0).to.equal(true)
        }),
      ).to.be.above(50)
      expect(
        fuzz(
          29,
          ['tcp', 'web', '=', ':', ',', '1', '0', '-1', '101', ' ', 'all', '__proto__', 'constructor'],
          (text) => {
            for (const count of parseFormation(text).values()) expect(count).to.be.within(0, 100)
          },
        ),
      ).to.be.above(10)
    })
  })
})
