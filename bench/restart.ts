/*
 * Rolling restart: the time from a new generation's readiness to its first client connection. Runs
 * tcp:proxy --json on a one-instance Procfile (test/fixtures/servers/restartable-echo.mjs, which greets every
 * connection with its own port), opens a connection every --interval ms, sends SIGHUP --restarts times.
 *   node --import tsx bench/restart.ts [--restarts 5] [--interval 2]
 */
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {type AddressInfo, connect, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const {values} = parseArgs({options: {restarts: {type: 'string'}, interval: {type: 'string'}}})
const restarts = Number(values.restarts ?? 5)
const intervalMs = Number(values.interval ?? 2)

const server = createServer().listen(0, '127.0.0.1')
await once(server, 'listening')
const port = (server.address() as AddressInfo).port
server.close()

const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-restart-'))
writeFileSync(join(dir, 'Procfile'), `tcp: node ${join(ROOT, 'test', 'fixtures', 'servers', 'restartable-echo.mjs')}\n`)
const proxy = spawn(
  process.execPath,
  [join(ROOT, 'bin', 'run.js'), 'tcp:proxy', '--json', '--port', String(port), '--grace', '5s'],
  {cwd: dir, stdio: ['ignore', 'pipe', 'inherit']},
)
type Event = {event: string; time: string; [key: string]: unknown}
const waiters: Array<{match: (e: Event) => boolean; resolve: (e: Event) => void}> = []
createInterface({input: proxy.stdout!}).on('line', (line) => {
  const event = JSON.parse(line) as Event
  for (const waiter of [...waiters]) {
    if (waiter.match(event)) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(event)
    }
  }
})
const next = (match: (e: Event) => boolean) => new Promise<Event>((resolve) => waiters.push({match, resolve}))

await next((e) => e.event === 'instance-ready')
/** When each backend port first served a client (ms since epoch, this process's clock). */
const firstSeen = new Map<number, number>()
let failures = 0
let running = true
const loop = (async () => {
  while (running) {
    const socket = connect({host: '127.0.0.1', port})
    socket.on('error', () => {
      failures++
    })
    const [greeting] = (await Promise.race([once(socket, 'data'), once(socket, 'close')])) as [Buffer | boolean]
    const at = Date.now()
    if (Buffer.isBuffer(greeting)) {
      const backendPort = Number(greeting.toString().split('\n')[0])
      if (!firstSeen.has(backendPort)) firstSeen.set(backendPort, at)
    }

    socket.destroy()
    await new Promise((resolve) => {
      setTimeout(resolve, intervalMs)
    })
  }
})()

console.log('| restart | switch after ready (gateway) | ready -> first client connection |\n|---|---:|---:|')
const latencies: number[] = []
for (let i = 1; i <= restarts; i++) {
  const switched = next((e) => e.event === 'restart-switched')
  const completed = next((e) => e.event === 'restart-completed')
  proxy.kill('SIGHUP')
  const event = await switched
  await completed
  const readyAt = Date.parse(event.time) - Number(event.switchMs)
  while (!firstSeen.has(Number(event.port))) await new Promise((resolve) => setTimeout(resolve, 5))
  const latency = firstSeen.get(Number(event.port))! - readyAt
  latencies.push(latency)
  console.log(`| ${i} | ${event.switchMs} ms | ${latency} ms |`)
}

running = false
await loop
latencies.sort((a, b) => a - b)
console.log(
  `\nmedian ready -> first connection: ${latencies[Math.floor(latencies.length / 2)]} ms (client connects every ` +
    `${intervalMs} ms; event times have 1 ms resolution); failed client connections: ${failures}`,
)
proxy.kill('SIGTERM')
await once(proxy, 'exit')
