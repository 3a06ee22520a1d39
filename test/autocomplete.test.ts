import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {runCli} from './support/cli.js'

const execFileP = promisify(execFile)

describe('shell completion (@oclif/plugin-autocomplete)', () => {
  let home: string
  let env: Record<string, string>

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'scalingo-tcp-ac-'))
    env = {
      HOME: home,
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
    }
  })

  after(() => rmSync(home, {recursive: true, force: true}))

  for (const shell of ['bash', 'zsh']) {
    it(`\`autocomplete ${shell}\` prints the setup instructions for ${shell}`, async () => {
      const result = await runCli(['autocomplete', shell], {env})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.include('Setup Instructions for SCALINGO-TCP CLI Autocomplete')
      expect(result.stdout).to.include(`printf "$(scalingo-tcp autocomplete:script ${shell})" >> ~/.${shell}rc`)
    })
  }

  it('`autocomplete:script bash` sources a completion function that knows our commands and flags', async () => {
    const result = await runCli(['autocomplete:script', 'bash'], {env})
    expect(result.code, result.stderr).to.equal(0)
    const setupPath = /SCALINGO_TCP_AC_BASH_SETUP_PATH=(\S+)/.exec(result.stdout)?.[1]
    expect(setupPath, result.stdout).to.be.a('string')
    expect(setupPath!.startsWith(join(home, 'cache', 'scalingo-tcp'))).to.equal(true)
    expect(existsSync(setupPath!), 'the cache is built by `autocomplete bash`').to.equal(true)

    const functions = readFileSync(
      join(home, 'cache', 'scalingo-tcp', 'autocomplete', 'functions', 'bash', 'scalingo-tcp.bash'),
      'utf8',
    )
    const flagsOf = (id: string) => new RegExp(`^${id} (.*)$`, 'm').exec(functions)?.[1].split(' ') ?? []
    expect(flagsOf('env')).to.include.members(['--app', '--remote', '--region', '--json', '--shell'])
    expect(flagsOf('tcp:proxy')).to.include.members(['--procfile', '--env', '--formation', '--port'])
    expect(flagsOf('scalingo:login')).to.include('--api-token-stdin')
    expect(flagsOf('scalingo:logout')).to.include('--no-color')

    // Run the completion function as bash would on <TAB>. bash-completion's helpers are stubbed: they
    // only handle `:` in words, which these cases do not have.
    const complete = async (...words: string[]) => {
      const script = `${result.stdout}
_get_comp_words_by_ref() { :; }
__ltrim_colon_completions() { :; }
complete -p scalingo-tcp >/dev/null || exit 3
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_scalingo-tcp_autocomplete
printf '%s\\n' "\${COMPREPLY[@]}"`
      const {stdout} = await execFileP('bash', ['--norc', '-c', script], {env: {...env, PATH: process.env.PATH!}})
      return stdout.trim().split('\n')
    }

    expect(await complete('scalingo-tcp', 'en')).to.deep.equal(['env'])
    expect(await complete('scalingo-tcp', 'sc')).to.have.members(['scalingo:login', 'scalingo:logout'])
    expect(await complete('scalingo-tcp', 'env', '--sh')).to.deep.equal(['--shell'])
  })

  it('`autocomplete:script zsh` points at a completion function listing our commands', async () => {
    const result = await runCli(['autocomplete:script', 'zsh'], {env})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/SCALINGO_TCP_AC_ZSH_SETUP_PATH=\S+/)
    const functions = readFileSync(
      join(home, 'cache', 'scalingo-tcp', 'autocomplete', 'functions', 'zsh', '_scalingo-tcp'),
      'utf8',
    )
    expect(functions).to.include('#compdef scalingo-tcp')
    for (const entry of ['"env:Print', '"scalingo\\:login:', '"scalingo\\:logout:', '"tcp\\:proxy:Run'])
      expect(functions).to.include(entry)
    expect(functions).to.include('"--shell[Print')
  })
})
