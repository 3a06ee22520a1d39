import {existsSync, readFileSync, realpathSync} from 'node:fs'
import {createRequire} from 'node:module'

import {DEFAULT_ADDON_PATH, nativeTransport} from '../../src/lib/gateway/native-transport.js'
import {GATEWAY_IO_MODES, type GatewayIo} from '../../src/lib/gateway/transport.js'

/** Every gateway transport: the suites that hold for each of them loop over this. */
export const TRANSPORTS: readonly GatewayIo[] = GATEWAY_IO_MODES

/**
 * Whether this run must have the native relay: when the build produced its addon (build/Release/relay.node
 * exists), or when SCALINGO_TCP_EXPECT_NATIVE=1 says so (.ci/run sets it: CI builds the addon). Then a relay
 * that is missing or does not load fails the native tests; otherwise (no compiler, nothing built, nothing
 * asked) they are skipped, and mocha reports them as pending.
 */
export function nativeExpected(): boolean {
  return process.env.SCALINGO_TCP_EXPECT_NATIVE === '1' || existsSync(DEFAULT_ADDON_PATH)
}

/** The native relay loads in this process. */
export function nativeAvailable(): boolean {
  return nativeTransport() !== null
}

/** Why the native relay does not load here, for the failure message. */
function nativeProblem(): string {
  if (!existsSync(DEFAULT_ADDON_PATH)) return `${DEFAULT_ADDON_PATH} is missing (npm run build:native builds it)`
  try {
    createRequire(import.meta.url)(DEFAULT_ADDON_PATH)
    return `${DEFAULT_ADDON_PATH} loads but is not the relay this source expects (rebuild it: npm run build:native)`
  } catch (error) {
    return `${DEFAULT_ADDON_PATH} does not load: ${error instanceof Error ? error.message : String(error)}`
  }
}

/**
 * Call inside a describe block whose tests need transport `io`: for 'native', a before hook that fails the
 * block when the relay is expected but does not load, and skips it when the relay is not expected.
 */
export function requireTransport(io: GatewayIo): void {
  before(function () {
    if (io !== 'native' || nativeAvailable()) return
    if (nativeExpected()) {
      throw new Error(
        `The native relay is expected (build/Release/relay.node exists or SCALINGO_TCP_EXPECT_NATIVE=1) but ${nativeProblem()}.`,
      )
    }

    this.skip()
  })
}

/** The transport a gateway uses when none is asked for: the native relay when it loads (or must), else net.Socket. */
export function defaultTransport(): GatewayIo {
  return nativeAvailable() || nativeExpected() ? 'native' : 'streams'
}

/**
 * Whether process `pid` has the native relay's addon mapped (Linux: /proc/<pid>/maps), or undefined where
 * that cannot be seen: tells which transport a process really loaded, not which one it says it runs.
 */
export function loadsNativeAddon(pid: number | 'self'): boolean | undefined {
  if (process.platform !== 'linux') return undefined
  // The kernel names the file by its real path.
  const path = existsSync(DEFAULT_ADDON_PATH) ? realpathSync(DEFAULT_ADDON_PATH) : DEFAULT_ADDON_PATH
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes(path)
}
