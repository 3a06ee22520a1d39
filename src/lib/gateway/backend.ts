import {lookup} from 'node:dns'
import {isIP} from 'node:net'

import type {BackendInfo, BackendSpec, BackendState} from './types.js'

/** The gateway's live record of one backend; counters are updated in place on the data path. */
export class Backend {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly generation: number
  /** What the data path connects to: an IP literal whenever possible, so no DNS lookup per connection. */
  address: string
  state: BackendState = 'booting'
  active = 0
  total = 0
  bytesIn = 0
  bytesOut = 0
  failures = 0

  constructor(spec: BackendSpec) {
    this.id = spec.id
    this.host = spec.host
    this.port = spec.port
    this.generation = spec.generation
    this.address = spec.host
    if (isIP(spec.host) === 0) {
      // Resolved once; until it is (or if it fails) connect() resolves the name itself.
      lookup(spec.host, (error, address) => {
        if (!error) this.address = address
      })
    }
  }

  info(): BackendInfo {
    return {
      id: this.id,
      host: this.host,
      port: this.port,
      generation: this.generation,
      state: this.state,
      active: this.active,
      total: this.total,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      failures: this.failures,
    }
  }
}
