import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import module from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ROOT, runCli} from './support/cli.js'

describe('the CLI binary', () => {
  it('prints its version as scalingo-tcp/<package version>', async () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8'))
    const result = await runCli(['--version'])
    expect(result.code).to.equal(0)
    expect(result.stdout).to.match(new RegExp(`^scalingo-tcp/${pkg.version.replaceAll('.', '\\.')} `))
  })

  it('exits 2 with a usage error for an unknown flag', async () => {
    const result = await runCli(['help', '--definitely-not-a-flag'])
    expect(result.code).to.not.equal(0)
  })

  it('lists topics and commands in help in English collation order', async () => {
    const {code, stdout} = await runCli(['--help'], {env: {NO_COLOR: '1', LANG: 'en_US.UTF-8'}})
    expect(code).to.equal(0)
    for (const section of ['TOPICS', 'COMMANDS']) {
      const lines = stdout.split(`${section}\n`)[1].split('\n\n')[0].split('\n')
      const names = lines.map((line) => line.trim().split(/\s+/)[0])
      expect(names.length, section).to.be.above(1)
      expect(names, section).to.deep.equal([...names].sort(new Intl.Collator('en').compare))
    }
  })

  describe("Node's compile cache", () => {
    let dir: string
    const enabled = typeof (module as {enableCompileCache?: unknown}).enableCompileCache === 'function'

    beforeEach(function () {
      if (!enabled) this.skip() // Node < 22.1 has no module.enableCompileCache: nothing to keep, nothing written
      dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-compile-cache-'))
    })

    afterEach(() => {
      if (dir) rmSync(dir, {recursive: true, force: true})
    })

    /** Every file below `sub`, relative to the test's directory. */
    const files = (sub: string): string[] =>
      readdirSync(join(dir, sub), {recursive: true, withFileTypes: true})
        .filter((e) => e.isFile())
        .map((e) => e.name)

    it("keeps it in Node's directory under the system temp dir, never in the current directory", async () => {
      const cwd = mkdtempSync(join(dir, 'cwd-'))
      const result = await runCli(['--version'], {cwd, env: {TMPDIR: join(dir, 'tmp')}})
      expect(result.code).to.equal(0)
      expect(readdirSync(cwd)).to.deep.equal([])
      expect(files('tmp/node-compile-cache').length).to.be.above(10)
    })

    it('puts it where NODE_COMPILE_CACHE says', async () => {
      const result = await runCli(['--version'], {
        env: {TMPDIR: join(dir, 'tmp'), NODE_COMPILE_CACHE: join(dir, 'chosen')},
      })
      expect(result.code).to.equal(0)
      expect(files('chosen').length).to.be.above(10)
      expect(readdirSync(dir)).to.deep.equal(['chosen'])
    })

    it('writes none with NODE_DISABLE_COMPILE_CACHE=1', async () => {
      const result = await runCli(['--version'], {env: {TMPDIR: join(dir, 'tmp'), NODE_DISABLE_COMPILE_CACHE: '1'}})
      expect(result.code).to.equal(0)
      expect(readdirSync(dir)).to.deep.equal([])
    })

    it('runs silently, uncached, when the directory cannot be created', async () => {
      // A path below a regular file: mkdir fails with ENOTDIR even for root, which ignores permissions.
      const file = join(dir, 'a-file')
      writeFileSync(file, '')
      for (const env of [{TMPDIR: file}, {NODE_COMPILE_CACHE: join(file, 'cache')}]) {
        const result = await runCli(['--version'], {env})
        expect(result.code, JSON.stringify(env)).to.equal(0)
        expect(result.stdout).to.match(/^scalingo-tcp\//)
        expect(result.stderr, JSON.stringify(env)).to.equal('')
      }
    })
  })
})
