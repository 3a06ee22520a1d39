import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {baseEnv, ROOT} from './support/cli.js'

const execFileP = promisify(execFile)
const START = '<!-- commands -->'
const STOP = '<!-- commandsstop -->'
/** Where `npm run readme` writes the generated command reference (README.md links to it). */
const REFERENCE = join('docs', 'commands.md')

/** The command reference between the markers, without trailing spaces, so only real changes count. */
export function commandSection(markdown: string): string {
  // Markers alone on their line: `oclif readme` also logs "replacing <!-- commands --> in docs/commands.md".
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

/** The anchors of links into the reference (`](docs/commands.md#anchor)`), in order of appearance. */
export function referenceAnchors(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(docs\/commands\.md#([^)\s]+)\)/g)].map((m) => m[1])
}

describe('command reference (docs/commands.md)', () => {
  it('is what `npm run readme` generates (oclif readme --no-aliases --readme-path docs/commands.md)', async function () {
    this.timeout(30_000)
    // --dry-run prints the regenerated file instead of writing it; the update notice goes to stderr.
    const {stdout} = await execFileP(
      join(ROOT, 'node_modules', '.bin', 'oclif'),
      ['readme', '--no-aliases', '--readme-path', REFERENCE, '--dry-run'],
      {
        cwd: ROOT,
        env: {...baseEnv(), OCLIF_SKIP_NEW_VERSION_CHECK: 'true', NO_COLOR: '1'},
        maxBuffer: 16 * 1024 * 1024,
      },
    )
    const generated = commandSection(stdout)
    expect(generated).to.include('scalingo-tcp env [NAME]')
    const committed = commandSection(readFileSync(join(ROOT, REFERENCE), 'utf8'))
    expect(committed, `${REFERENCE} is out of date: run \`npm run readme\` and commit the result`).to.equal(generated)
  })

  it('is linked from README.md for every command it documents, through anchors that exist', () => {
    const reference = readFileSync(join(ROOT, REFERENCE), 'utf8')
    // The generated index: "* [`scalingo-tcp env [NAME]`](#scalingo-tcp-env-name)".
    const documented = [...commandSection(reference).matchAll(/^\* \[`[^`]+`\]\(#([^)]+)\)$/gm)].map((m) => m[1])
    expect(documented).to.include('scalingo-tcp-tcpproxy')
    const linked = new Set(referenceAnchors(readFileSync(join(ROOT, 'README.md'), 'utf8')))
    expect(
      documented.filter((anchor) => !linked.has(anchor)),
      'commands the README does not link to',
    ).to.deep.equal([])
    expect(
      [...linked].filter((anchor) => !documented.includes(anchor)),
      'README links to anchors the reference lacks',
    ).to.deep.equal([])
  })

  it('lives only in docs/commands.md: README.md has no generated section', () => {
    expect(() => commandSection(readFileSync(join(ROOT, 'README.md'), 'utf8'))).to.throw(/section/)
  })

  it('finds the section between the markers and the anchors of links into it', () => {
    expect(commandSection(`replacing ${START} in docs/commands.md\na\n${START}\n* x  \n${STOP}\nb`)).to.equal('* x')
    expect(() => commandSection('no markers')).to.throw(/section/)
    expect(referenceAnchors('[a](docs/commands.md#x-y), [b](docs/other.md#z), [c](docs/commands.md#w)')).to.deep.equal([
      'x-y',
      'w',
    ])
  })
})
