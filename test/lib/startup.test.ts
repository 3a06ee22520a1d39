import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {collatesByCodePoint, commandIdCompare, importOclif, nodeVersionWarning} from '../../src/lib/startup.js'

const execFileAsync = promisify(execFile)
const icu = String.prototype.localeCompare
const compare = commandIdCompare(icu)

function randomId(alphabet: string): string {
  let id = ''
  const length = 1 + Math.floor(Math.random() * 10)
  for (let i = 0; i < length; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)]
  return id
}

describe('start-up tuning', () => {
  it('orders command ids exactly as ICU does in English and POSIX locales', () => {
    const collators = [new Intl.Collator('en'), new Intl.Collator('en-US-u-va-posix'), new Intl.Collator('und')]
    for (let i = 0; i < 20_000; i++) {
      const a = randomId('abcdefghijklmnopqrstuvwxyz:-')
      const b = randomId('abcdefghijklmnopqrstuvwxyz:-')
      const fast = Math.sign(compare.call(a, b))
      for (const collator of collators) expect(fast, `${a} vs ${b}`).to.equal(Math.sign(collator.compare(a, b)))
    }

    expect(['tcp:proxy', 'addons:tcp:info', 'env', 'addons:tcp', 'addons-x'].sort((a, b) => compare.call(a, b))).to.deep.equal(
      ['addons-x', 'addons:tcp', 'addons:tcp:info', 'env', 'tcp:proxy'],
    )
  })

  it('leaves other strings, explicit locales and options to ICU', () => {
    // Code point order would put 'B' before 'a', and '_' after ':'; ICU does neither.
    expect(compare.call('a', 'B')).to.equal(icu.call('a', 'B'))
    expect(compare.call('a', 'B')).to.be.below(0)
    expect(compare.call('a_b', 'a:b')).to.equal(icu.call('a_b', 'a:b'))
    expect(compare.call('item10', 'item9', undefined, {numeric: true})).to.be.above(0)
    // Danish collation sorts "aa" after "z": an explicit locale is ICU's business.
    expect(compare.call('aa', 'z', 'da')).to.equal(icu.call('aa', 'z', 'da'))
    expect(compare.call('aa', 'z', 'da')).to.be.above(0)
  })

  it('only compares by code point when the default locale is English or POSIX', () => {
    expect(collatesByCodePoint({})).to.equal(true)
    expect(collatesByCodePoint({LANG: 'C.UTF-8'})).to.equal(true)
    expect(collatesByCodePoint({LANG: 'en_GB.UTF-8'})).to.equal(true)
    expect(collatesByCodePoint({LANG: 'da_DK.UTF-8'})).to.equal(false)
    expect(collatesByCodePoint({LANG: 'en_US.UTF-8', LC_ALL: 'lt_LT.UTF-8'})).to.equal(false)
  })

  it('warns on a Node older than 20, and not otherwise', () => {
    expect(nodeVersionWarning('18.19.0')).to.equal('scalingo-tcp needs Node.js 20 or later; this is 18.19.0.')
    expect(nodeVersionWarning('20.0.0')).to.equal(undefined)
    expect(nodeVersionWarning('22.11.0')).to.equal(undefined)
  })

  it('imports @oclif/core without leaving OCLIF_DISABLE_ENGINE_WARNING behind', async () => {
    const env: NodeJS.ProcessEnv = {}
    const oclif = await importOclif(env)
    expect(oclif.execute).to.be.a('function')
    expect(env).to.deep.equal({})
    const withValue: NodeJS.ProcessEnv = {OCLIF_DISABLE_ENGINE_WARNING: 'false'}
    await importOclif(withValue)
    expect(withValue).to.deep.equal({OCLIF_DISABLE_ENGINE_WARNING: 'false'})
  })

  it('bin/run.js (which compares command ids itself) lists topics and commands in ICU order', async () => {
    const run = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
    const {stdout} = await execFileAsync(process.execPath, [run, '--help'], {env: {...process.env, NO_COLOR: '1', LANG: 'C.UTF-8'}})
    for (const section of ['TOPICS', 'COMMANDS']) {
      const lines = stdout.split(`${section}\n`)[1].split('\n\n')[0].split('\n')
      const names = lines.map(line => line.trim().split(/\s+/)[0])
      expect(names.length, section).to.be.above(1)
      expect(names, section).to.deep.equal([...names].sort(new Intl.Collator('en').compare))
    }
  })

})
