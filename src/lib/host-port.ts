/**
 * How hosts and ports are written, in one place. An IPv6 address takes brackets wherever a port
 * follows it (`[::1]:5000`, `tcp://[::1]:5000`): `tcp://::1:5000` is not a URL (new URL() throws)
 * and `::1:5000` reads as another address. Socket APIs take the address without brackets.
 */

/** `::1` and `fe80::1%eth0` need brackets before a port; names and IPv4 addresses do not. */
function isIpv6(host: string): boolean {
  return host.includes(':')
}

/** `127.0.0.1:5000`, `localhost:5000`, `[::1]:5000`. */
export function hostPort(host: string, port: number | string): string {
  return isIpv6(host) ? `[${host}]:${port}` : `${host}:${port}`
}

/** `tcp://[::1]:5000`: TCP_URL, as the platform writes it. */
export function tcpUrl(host: string, port: number | string): string {
  return `tcp://${hostPort(host, port)}`
}

/** `http://[::1]:5000`, no trailing slash. */
export function httpUrl(host: string, port: number | string): string {
  return `http://${hostPort(host, port)}`
}

/** `[::1]` -> `::1` (what `--host` or a URL may give); anything else as it is. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/** `tcp://[::1]:5000` -> host `::1`, port 5000 (nulls when absent or not a URL). */
export function parseHostPortUrl(url: string): {host: string | null; port: number | null} {
  try {
    const parsed = new URL(url)
    return {host: unbracket(parsed.hostname) || null, port: parsed.port ? Number(parsed.port) : null}
  } catch {
    return {host: null, port: null}
  }
}
