import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliOptions, type CliResult, interruptCli, ROOT, runCli} from './cli.js'
import {FakeScalingo, homeWithScalingoCliLogin} from './fake-scalingo.js'
import {stripAnsi, TtyCli} from './tty.js'

/** What usePlatform gives a describe block; its fields are set by the hooks, so read them inside tests. */
export interface PlatformFixture {
  fake: FakeScalingo
  /** The CLI's HOME: one for the whole block, or a fresh one per test (see usePlatform). */
  home: string
  /** The Scalingo CLI's auth file in home, when it is logged in there. */
  cliAuthPath: string
  /** stdout and stderr of every cli() run, for the checks that no secret was printed. */
  outputs: string[]
  /** Runs the CLI against the fake platform with HOME = home (and the block's env, then the call's). */
  cli(args: string[], options?: Pick<CliOptions, 'env' | 'input'>): Promise<CliResult>
  /** A file of ours in home's config directory (credentials.json, jwt-cache.json). */
  configFile(name: string): string
}

export interface PlatformOptions {
  /** Each test gets a fresh HOME in which the Scalingo CLI is logged in with this token (its file must never change). */
  scalingoCliToken?: string
  /** Environment for every cli() run of the block. */
  env?: Record<string, string | undefined>
}

/**
 * A fake Scalingo platform (started before the block, stopped after it) and a HOME for the CLI, as mocha
 * hooks of the calling describe block. `setup` adds the users and apps.
 */
export function usePlatform(
  prefix: string,
  setup: (fake: FakeScalingo) => void,
  options: PlatformOptions = {},
): PlatformFixture {
  const fixture: PlatformFixture = {
    fake: undefined as unknown as FakeScalingo,
    home: '',
    cliAuthPath: '',
    outputs: [],
    async cli(args, {input, env} = {}) {
      const result = await runCli(args, {
        input,
        env: {HOME: fixture.home, ...fixture.fake.env(), ...options.env, ...env},
      })
      fixture.outputs.push(result.stdout, result.stderr)
      return result
    },
    configFile: (name) => join(fixture.home, '.config', 'scalingo-tcp', name),
  }
  const perTest = options.scalingoCliToken !== undefined
  const removeHome = () => rmSync(fixture.home, {recursive: true, force: true})

  before(async () => {
    fixture.fake = new FakeScalingo()
    await fixture.fake.start()
    setup(fixture.fake)
    if (!perTest) fixture.home = mkdtempSync(join(tmpdir(), prefix))
  })
  if (perTest) {
    beforeEach(() => {
      const scalingoCli = homeWithScalingoCliLogin(prefix, '127.0.0.1', options.scalingoCliToken!)
      fixture.home = scalingoCli.home
      fixture.cliAuthPath = scalingoCli.cliAuthPath
    })
    afterEach(removeHome)
  }

  after(async () => {
    await fixture.fake.stop()
    if (!perTest) removeHome()
  })
  return fixture
}

/** The API token of Harness's user. */
export const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

/** A fake platform, a throw-away HOME, and a way to run the CLI against them with fast polling. */
export class Harness {
  fake = new FakeScalingo()
  home = ''
  private readonly dirs: string[] = []

  async start(): Promise<void> {
    await this.fake.start()
    this.fake.addUser(TOKEN)
    this.home = this.tempDir('home')
  }

  async stop(): Promise<void> {
    await this.fake.stop()
    for (const dir of this.dirs) rmSync(dir, {recursive: true, force: true})
  }

  tempDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `scalingo-tcp-addons-${name}-`))
    this.dirs.push(dir)
    return dir
  }

  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      HOME: this.home,
      ...this.fake.env(),
      SCALINGO_API_TOKEN: TOKEN,
      SCALINGO_TCP_RETRY_BASE_MS: '5',
      SCALINGO_TCP_POLL_INTERVAL_MS: '5',
      ...extra,
    }
  }

  cli(args: string[], options: {env?: Record<string, string | undefined>; cwd?: string} = {}): Promise<CliResult> {
    return runCli(args, {env: this.env(options.env), cwd: options.cwd})
  }

  /** Starts the CLI, waits for `pattern` on stderr, then sends SIGINT (what Ctrl-C does). */
  interrupt(args: string[], pattern: RegExp, options: {cwd?: string} = {}): Promise<CliResult & {sawPattern: boolean}> {
    return interruptCli(args, pattern, {env: this.env(), cwd: options.cwd})
  }

  /**
   * Runs the CLI on a pseudo-terminal (TtyCli), so stdin, stdout and stderr are TTYs; each step waits for its
   * text on the terminal, then types its keys. SIGKILLed after 15 s; `output` is `raw` without ANSI codes.
   */
  async pty(
    args: string[],
    steps: Array<{waitFor: string | RegExp; keys: string}>,
    options: {cwd?: string} = {},
  ): Promise<{code: number | null; output: string; raw: string}> {
    const tty = new TtyCli(args, {env: this.env() as Record<string, string>, cwd: options.cwd ?? ROOT})
    const timer = setTimeout(() => tty.kill(), 15_000)
    try {
      for (const {waitFor, keys} of steps) {
        await tty.waitFor(waitFor, 15_000)
        tty.type(keys)
      }

      const code = await tty.exited
      return {code, output: stripAnsi(tty.output), raw: tty.output}
    } finally {
      clearTimeout(timer)
      tty.kill()
    }
  }
}
