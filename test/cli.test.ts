import {expect} from 'chai'
import {readFileSync} from 'node:fs'

import {ROOT, runCli} from './helpers/cli.js'

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
})
