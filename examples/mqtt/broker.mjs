// The `tcp` process: an aedes MQTT broker on $PORT, as Scalingo's TCP sample runs Mosca. Containers share
// nothing, so each instance (and each generation of a rolling restart) is a broker of its own, in memory.
import net from 'node:net'

import {Aedes} from 'aedes'

const name = process.env.CONTAINER || 'broker'
const log = (line) => console.log(`[${name}] ${line}`)
const port = Number(process.env.PORT)
if (!process.env.PORT || !Number.isInteger(port)) {
  console.error(`[${name}] PORT is not set: the platform gives every container a PORT to listen on.
Run the app with \`scalingo-tcp tcp:proxy\`, or the broker alone with \`PORT=1883 node broker.mjs\`.`)
  process.exit(1)
}

const aedes = await Aedes.createBroker()
const routing = new Set() // publishes let in (so acknowledged, at QoS 1) whose delivery is not written yet
const sockets = new Set()
let stopping = false
let changed = () => {}
aedes.authorizePublish = (client, packet, callback) => {
  // Once stopping, a publish is neither acknowledged nor delivered: the client sends it again after reconnecting.
  if (stopping) return
  routing.add(packet)
  callback(null)
}
aedes.published = (packet, client, callback) => {
  if (routing.delete(packet)) changed()
  callback()
}
aedes.on('clientReady', (client) => log(`client ${client.id} connected`))
aedes.on('clientDisconnect', (client) => log(`client ${client.id} disconnected`))

const server = net.createServer(aedes.handle)
server.on('connection', (socket) => {
  sockets.add(socket)
  socket.on('close', () => sockets.delete(socket) && changed())
})
server.on('error', (error) => {
  console.error(`[${name}] cannot listen on 0.0.0.0:${port}: ${error.message}`)
  process.exit(1)
})
// 0.0.0.0, not 127.0.0.1: on the platform the gateway reaches the container from another host.
server.listen(port, '0.0.0.0', () => log(`listening on ${server.address().port}`))

/** Resolves once `set` is empty, or after `ms` (the platform's SIGKILL comes 30 s after SIGTERM). */
function emptied(set, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    changed = () => set.size === 0 && (clearTimeout(timer), resolve())
    changed()
  })
}

async function stop(signal) {
  stopping = true
  log(`${signal} received: closing ${sockets.size} connection(s)`)
  server.close()
  // What was acknowledged reaches its subscribers' sockets first; end() then sends FIN after those bytes.
  await emptied(routing, 2000)
  for (const socket of sockets) socket.end()
  await emptied(sockets, 5000)
  log('stopped')
  process.exit(0)
}

process.once('SIGTERM', stop).once('SIGINT', stop)
