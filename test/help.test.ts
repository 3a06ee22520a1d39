import {type Command, Config, Flags, Parser} from '@oclif/core'
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {ROOT, runCli} from './support/cli.js'

const INVOCATION = '<%= config.bin %> <%= command.id %>'

/**
 * The argv an example passes to its command: what follows the invocation, split like a POSIX shell
 * splits words (quotes kept together), up to the end of the command (`|`, `;`, `&`, or the `)` that
 * closes a `$(...)`).
 */
export function exampleArgv(example: string): string[] {
  const start = example.indexOf(INVOCATION)
  if (start === -1) throw new Error(`example does not invoke the command through ${INVOCATION}: ${example}`)
  const rest = example.slice(start + INVOCATION.length)
  const argv: string[] = []
  let word: string | undefined
  let quote: '"' | "'" | undefined
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]
    if (quote) {
      if (c === quote) quote = undefined
      else if (c === '\\' && quote === '"' && i + 1 < rest.length) word += rest[++i]
      else word += c
    } else if (c === '"' || c === "'") {
      quote = c
      word ??= ''
    } else if (c === '\\' && i + 1 < rest.length) {
      word = (word ?? '') + rest[++i]
    } else if (/\s/.test(c)) {
      if (word !== undefined) argv.push(word)
      word = undefined
    } else if ('|;&)'.includes(c)) {
      break
    } else {
      word = (word ?? '') + c
    }
  }

  if (quote) throw new Error(`unterminated quote in example: ${example}`)
  if (word !== undefined) argv.push(word)
  return argv
}

function exampleCommands(examples: Command.Example[] | undefined): string[] {
  return (examples ?? []).map((e) => (typeof e === 'string' ? e : e.command))
}

describe('help: every command documents itself', () => {
  let config: Config

  before(async () => {
    config = await Config.load(ROOT)
  })

  describe('exampleArgv()', () => {
    it('splits words, keeps quoted strings whole and stops at a pipe or at the end of $(...)', () => {
      expect(exampleArgv(`${INVOCATION} -a my-app | grep TCP_URL`)).to.deep.equal(['-a', 'my-app'])
      expect(exampleArgv(`eval "$(${INVOCATION} -a my-app --shell)"`)).to.deep.equal(['-a', 'my-app', '--shell'])
      expect(exampleArgv(`${INVOCATION} --only 'tcp web' -m "tcp=2"`)).to.deep.equal([
        '--only',
        'tcp web',
        '-m',
        'tcp=2',
      ])
      expect(exampleArgv(`echo x | ${INVOCATION} --api-token-stdin`)).to.deep.equal(['--api-token-stdin'])
      expect(exampleArgv(INVOCATION)).to.deep.equal([])
      expect(() => exampleArgv('scalingo-tcp env')).to.throw(/does not invoke/)
    })
  })

  it('finds our commands in the config', () => {
    const ids = ownCommands().map((c) => c.id)
    expect(ids).to.include.members(['env', 'scalingo:login', 'scalingo:logout', 'tcp:proxy'])
    // no short forms: a host CLI has its own `login` (see src/commands/scalingo/login.ts)
    expect(ids).to.not.include.members(['login']).and.not.include.members(['logout'])
  })

  it('gives every command a summary, a description and at least one example', () => {
    const missing: string[] = []
    for (const command of ownCommands()) {
      if (!command.summary?.trim()) missing.push(`${command.id}: no summary`)
      if (!command.description?.trim()) missing.push(`${command.id}: no description`)
      if (exampleCommands(command.examples).length === 0) missing.push(`${command.id}: no example`)
    }

    expect(missing, missing.join('\n')).to.deep.equal([])
  })

  it("parses every example's argv with the command's own flags and args", async () => {
    const failures: string[] = []
    let parsed = 0
    for (const loadable of ownCommands()) {
      const command = await loadable.load()
      for (const example of exampleCommands(command.examples)) {
        try {
          const argv = exampleArgv(example)
          await Parser.parse(argv, {
            flags: {...command.baseFlags, ...command.flags, ...(command.enableJsonFlag ? {json: Flags.boolean()} : {})},
            args: command.args,
            strict: command.strict,
          })
          parsed++
        } catch (error) {
          failures.push(`${command.id}: \`${example}\`: ${(error as Error).message}`)
        }
      }
    }

    expect(failures, failures.join('\n')).to.deep.equal([])
    expect(parsed).to.be.greaterThan(ownCommands().length)
  })

  it('rejects an example with a flag the command does not have (the check can fail)', async () => {
    const env = await config.findCommand('env')!.load()
    let error: Error | undefined
    try {
      await Parser.parse(exampleArgv(`${INVOCATION} --no-such-flag`), {
        flags: {...env.baseFlags, ...env.flags},
        args: env.args,
        strict: true,
      })
    } catch (error_) {
      error = error_ as Error
    }

    expect(error?.message).to.match(/Nonexistent flag/)
  })

  it('names app flags as the Scalingo CLI does in every command that targets an app', () => {
    const targeting = ownCommands().filter((c) => c.flags.remote)
    expect(targeting.map((c) => c.id)).to.include('env')
    for (const command of targeting) {
      const {app, remote, region} = command.flags as Record<
        string,
        Command.Flag.Cached & {env?: string; default?: unknown}
      >
      expect({id: command.id, char: app?.char, env: app?.env}).to.deep.equal({
        id: command.id,
        char: 'a',
        env: 'SCALINGO_APP',
      })
      expect({id: command.id, char: remote.char, default: remote.default}).to.deep.equal({
        id: command.id,
        char: 'r',
        default: 'scalingo',
      })
      expect(region?.type, `${command.id} --region`).to.equal('option')
    }
  })

  function ownCommands(): Command.Loadable[] {
    return config.commands.filter((c) => c.pluginName === 'scalingo-tcp').sort((a, b) => a.id.localeCompare(b.id))
  }
})

describe('help: topics', () => {
  it("describes only our own topics in package.json: `addons` is a host's topic, and a plugin's description would replace the host's", () => {
    const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    expect(Object.keys(pjson.oclif.topics))
      .to.include.members(['addons:tcp', 'scalingo', 'tcp'])
      .and.not.include('addons')
  })

  it('standalone, `scalingo-tcp help` still describes `addons` (bin/run.js adds it) and lists the scalingo topic', async () => {
    const result = await runCli(['help'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/^ {2}addons +Manage the app's addons\.$/m)
    expect(result.stdout).to.match(/^ {2}scalingo +Log in to Scalingo and out of it\.$/m)
  })
})
