/*
 * The gateway's memory: RSS holding N idle proxied connections, and RSS over time while a fast sender
 * feeds a slow reader (each direction). Runs `tcp:proxy --upstream` as a child process (or
 * BENCH_GATEWAY_CMD, see run.ts) against in-process backends.
 *   node --import tsx bench/memory.ts [--connections 1000] [--seconds 4] [--reader-mbps 80]
 */
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {readFileSync} from 'node:fs'
import {type AddressInfo, connect, createServer, type Socket} from 'node:net'
import {createInterface} from 'node:readline'
import {parseArgs} from 'node:util'

import {gatewayCommand} from './gateway-command.js'
import {listen, pongServer} from './loadgen.js'

const HOST = '127.0.0.1'
const MB = 1024 * 1024

const {values} = parseArgs({
  options: {connections: {type: 'string'}, seconds: {type: 'string'}, 'reader-mbps': {type: 'string'}},
})
const connectionCount = Number(values.connections ?? 1000)
const seconds = Number(values.seconds ?? 4)
const readerBytesPerSecond = (Number(values['reader-mbps'] ?? 80) * MB) / 8

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((row) => row.startsWith('VmRSS:'))!
  return Number(line.split(/\s+/)[1]) / 1024
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, HOST)
  await once(server, 'listening')
  const {port} = server.address() as AddressInfo
  server.close()
  return port
}

async function startGateway(backendPort: number) {
  const port = await freePort()
  const command = gatewayCommand().map((arg) =>
    arg.replaceAll('{BACKEND}', `${HOST}:${backendPort}`).replaceAll('{PORT}', String(port)),
  )
  const child = spawn(command[0], command.slice(1), {stdio: ['ignore', 'pipe', 'inherit']})
  await once(createInterface({input: child.stdout!}), 'line')
  child.stdout!.resume()
  return {child, port}
}

async function exchange(socket: Socket): Promise<void> {
  socket.write('PING\r\n')
  await once(socket, 'data')
}

/** Opens `count` connections through the gateway, one PING each (so each has its backend), and holds them. */
async function idleConnections(count: number): Promise<void> {
  const backend = pongServer()
  const target = await listen(backend)
  const {child, port} = await startGateway(target.port)
  const sockets: Socket[] = []
  try {
    // Warm up (JIT, first buffers), then measure the baseline.
    for (let i = 0; i < 50; i++) {
      const socket = connect({host: HOST, port})
      await once(socket, 'connect')
      await exchange(socket)
      socket.destroy()
    }

    await new Promise((resolve) => {
      setTimeout(resolve, 500)
    })
    const before = rssMb(child.pid!)
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({length: Math.min(100, count - i)}, async () => {
          const socket = connect({host: HOST, port})
          sockets.push(socket)
          await once(socket, 'connect')
          await exchange(socket)
        }),
      )
    }

    await new Promise((resolve) => {
      setTimeout(resolve, 1000)
    })
    const after = rssMb(child.pid!)
    console.log(
      `| ${count} idle proxied connections | ${before.toFixed(1)} MB | ${after.toFixed(1)} MB | ` +
        `${(((after - before) * 1024) / count).toFixed(1)} KB per connection |`,
    )
  } finally {
    for (const socket of sockets) socket.destroy()
    child.kill('SIGTERM')
    await once(child, 'exit')
    backend.close()
  }
}

/** A reader that takes `bytesPerSecond` at most: reads, pauses, resumes on a timer. */
function throttle(socket: Socket, bytesPerSecond: number): () => number {
  let received = 0
  const started = Date.now()
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    const ahead = (received / bytesPerSecond) * 1000 - (Date.now() - started)
    if (ahead > 5) {
      socket.pause()
      setTimeout(() => socket.resume(), ahead)
    }
  })
  return () => received
}

/** Floods as fast as the socket accepts, honouring back-pressure, until stopped. */
function flood(socket: Socket): () => number {
  const chunk = Buffer.alloc(256 * 1024, 0x62)
  let sent = 0
  let stopped = false
  const pump = () => {
    while (!stopped && socket.writable) {
      sent += chunk.length
      if (!socket.write(chunk)) {
        socket.once('drain', pump)
        return
      }
    }
  }

  socket.on('error', () => {})
  pump()
  return () => {
    stopped = true
    return sent
  }
}

async function slowReader(direction: 'download' | 'upload'): Promise<void> {
  // The gateway probes its upstream with connections of its own: the client's is the one that says hello.
  let backendSide: Socket | undefined
  const backend = createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => {
      backendSide ??= socket
    })
  })
  const target = await listen(backend)
  const {child, port} = await startGateway(target.port)
  const client = connect({host: HOST, port})
  client.on('error', () => {})
  await once(client, 'connect')
  client.write('H')
  while (!backendSide) await new Promise((resolve) => setImmediate(resolve))
  const [sender, reader] = direction === 'download' ? [backendSide, client] : [client, backendSide]
  const received = throttle(reader, readerBytesPerSecond)
  const stop = flood(sender)
  const samples: number[] = []
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    await new Promise((resolve) => {
      setTimeout(resolve, 250)
    })
    samples.push(rssMb(child.pid!))
  }

  stop()
  const half = Math.floor(samples.length / 2)
  const firstHalf = Math.max(...samples.slice(0, half))
  const secondHalf = Math.max(...samples.slice(half))
  console.log(
    `| fast sender, slow reader (${direction}, reader ${((readerBytesPerSecond * 8) / MB).toFixed(0)} Mbit/s, ${seconds} s) | ` +
      `${(received() / MB).toFixed(0)} MB through | max RSS ${firstHalf.toFixed(1)} MB (first half), ${secondHalf.toFixed(1)} MB (second half) |`,
  )
  client.destroy()
  backendSide.destroy()
  child.kill('SIGTERM')
  await once(child, 'exit')
  backend.close()
}

console.log('| measurement | | | |\n|---|---|---|---|')
await idleConnections(connectionCount)
await slowReader('download')
await slowReader('upload')
