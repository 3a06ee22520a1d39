export {Gateway} from './gateway.js'
export {freePort} from './ports.js'
export {waitForAccept, type WaitForAcceptOptions} from './readiness.js'
export * from './types.js'
