// The layering of docs/architecture.md, checked: every import of src/**/*.ts (static, `export ... from`, dynamic
// `import('...')`, type-only imports included) read with TypeScript's own pre-processor, then the rules below.
import {expect} from 'chai'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import ts from 'typescript'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CONTRACT = 'src/lib/contract.ts'

/** Every .ts file under dir, as paths relative to the repository (forward slashes). */
function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sourceFiles(rel)
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [rel] : []
  })
}

/** The specifiers a file imports: `import`, `import type`, `export ... from`, `import('...')`. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName)
}

/** A relative specifier to the repository path it names (`./x.js` -> `dir/x.ts`), or the bare package name. */
function resolve(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts')
}

/** Tarjan's strongly connected components; the ones of more than one file (or a file importing itself) are cycles. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (node: string): void => {
    index.set(node, index.size)
    low.set(node, index.get(node)!)
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!))
    }
    if (low.get(node) !== index.get(node)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || graph.get(node)!.includes(node)) found.push(component.sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return found
}

const graph = new Map<string, string[]>(
  sourceFiles('src').map((file) => [
    file,
    importsOf(readFileSync(path.join(ROOT, file), 'utf8')).map((spec) => resolve(file, spec)),
  ]),
)

/** Each import of a file matching `from` that matches `to`, as "importer -> imported". */
function imports(from: (file: string) => boolean, to: (target: string) => boolean): string[] {
  return [...graph].flatMap(([file, targets]) => (from(file) ? targets.filter(to).map((t) => `${file} -> ${t}`) : []))
}

const under =
  (...dirs: string[]) =>
  (file: string) =>
    dirs.some((dir) => file.startsWith(`src/lib/${dir}/`))

describe('architecture (docs/architecture.md)', () => {
  it('reads every kind of import', () => {
    const text = [
      "import a from './a.js'",
      "import type {B} from './b.js'",
      "export {c} from './c.js'",
      "export * from './d.js'",
      "const e = await import('./e.js')",
      "import './f.js'",
    ].join('\n')
    expect(importsOf(text)).to.deep.equal(['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js'])
  })

  it('finds a cycle, and only a cycle', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', ['d']],
      ['e', ['a']],
    ])
    expect(cycles(g)).to.deep.equal([['d'], ['a', 'b', 'c']])
    expect(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).to.deep.equal([])
  })

  it('sees the whole of src/', () => {
    expect(graph.has(CONTRACT), CONTRACT).to.equal(true)
    expect(graph.size).to.be.greaterThan(50)
  })

  it('has no import cycle', () => {
    const found = cycles(graph)
    expect(found, `import cycles:\n${found.map((c) => `  ${c.join(' <-> ')}`).join('\n')}`).to.deep.equal([])
  })

  it('src/lib never imports src/commands', () => {
    expect(
      imports(
        (f) => f.startsWith('src/lib/'),
        (t) => t.startsWith('src/commands/'),
      ),
    ).to.deep.equal([])
  })

  it('only src/lib/output/ imports chalk or ora', () => {
    const ui = (t: string) => /^(chalk|ora)(\/|$)/.test(t)
    expect(imports((f) => !f.startsWith('src/lib/output/'), ui)).to.deep.equal([])
  })

  it('the contract module imports nothing', () => {
    expect(graph.get(CONTRACT)).to.deep.equal([])
  })

  it('supervisor/, gateway/ and procfile/ import nothing above them', () => {
    const above = (t: string) => under('api', 'proxy', 'control', 'output', 'tcp-addon')(t)
    expect(imports(under('supervisor', 'gateway', 'procfile'), above)).to.deep.equal([])
  })

  it('control/, output/ and tcp-addon/ import the contract, not proxy/', () => {
    expect(imports(under('control', 'output', 'tcp-addon'), under('proxy'))).to.deep.equal([])
  })

  it('proxy/ imports none of control/, output/, api/; only proxy/run.ts, above both, wires control/ in', () => {
    const proxy = (f: string) => under('proxy')(f) && f !== 'src/lib/proxy/run.ts'
    expect(imports(proxy, under('control', 'output', 'api', 'tcp-addon'))).to.deep.equal([])
  })

  it('api/ imports none of output/, proxy/, control/', () => {
    expect(imports(under('api'), under('output', 'proxy', 'control', 'tcp-addon'))).to.deep.equal([])
  })
})
