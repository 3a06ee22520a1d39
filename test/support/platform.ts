import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, runCli} from './cli.js'
import {FakeScalingo, homeWithScalingoCliLogin} from './fake-scalingo.js'

export interface CliOptions {
  input?: string
  env?: Record<string, string | undefined>
}

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
  cli(args: string[], options?: CliOptions): Promise<CliResult>
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
