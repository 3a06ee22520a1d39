import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {baseEnv, ROOT} from './helpers/cli.js'

const execFileP = promisify(execFile)
const START = '<!-- commands -->'
const STOP = '<!-- commandsstop -->'

/** The command reference between the markers, without trailing spaces, so only real changes count. */
export function commandSection(markdown: string): string {
  // Markers alone on their line: `oclif readme` also logs "replacing <!-- commands --> in README.md".
  const start = markdown.search(/^<!-- commands -->$/m)
  const stop = markdown.search(/^<!-- commandsstop -->$/m)
  if (start === -1 || stop === -1 || stop < start) throw new Error(`no ${START} ... ${STOP} section`)
  return markdown
    .slice(start + START.length, stop)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim()
}

describe('README command reference', () => {
  it('is what `npm run readme` generates (oclif readme --no-aliases)', async function () {
    this.timeout(30_000)
    // --dry-run prints the regenerated README instead of writing it; the update notice goes to stderr.
    const {stdout} = await execFileP(join(ROOT, 'node_modules', '.bin', 'oclif'), ['readme', '--no-aliases', '--dry-run'], {
      cwd: ROOT,
      env: {...baseEnv(), OCLIF_SKIP_NEW_VERSION_CHECK: 'true', NO_COLOR: '1'},
      maxBuffer: 16 * 1024 * 1024,
    })
    const generated = commandSection(stdout)
    expect(generated).to.include('scalingo-tcp env [NAME]')
    const committed = commandSection(readFileSync(join(ROOT, 'README.md'), 'utf8'))
    expect(committed, 'README.md is out of date: run `npm run readme` and commit the result').to.equal(generated)
  })

  it('finds the section between the markers', () => {
    expect(commandSection(`replacing ${START} in README.md\na\n${START}\n* x  \n${STOP}\nb`)).to.equal('* x')
    expect(() => commandSection('no markers')).to.throw(/section/)
  })
})
