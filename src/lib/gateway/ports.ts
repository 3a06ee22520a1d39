import {type AddressInfo, createServer} from 'node:net'

/** A port that is free on `host` right now (the kernel picks it), for a new instance to listen on. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen({host, port: 0}, () => {
      const {port} = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}
