import type {IncomingHttpHeaders} from 'node:http'

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

/**
 * One HTTP(S) request with Node's own client, the body read as UTF-8 text. Nothing more is needed by the API
 * client, which does its retries, redirects (none) and error mapping itself; a library (got: ~10 ms of
 * loading and first-request code on every API command) cost more start-up than everything else a command does.
 * The whole request, connection included, must finish within `timeoutMs`, or it fails with a TimeoutError
 * (code ETIMEDOUT). Other failures are Node's errors with their codes (ECONNREFUSED, ENOTFOUND, ECONNRESET...).
 * No Accept-Encoding is sent, so responses come uncompressed.
 */
export async function httpRequest(
  url: string,
  options: {method: string; headers: Record<string, string>; body?: string; timeoutMs: number},
): Promise<HttpResponse> {
  // Only the module the URL needs: https loads TLS, which plain-HTTP test and local platforms never use.
  const {request} = url.startsWith('https:') ? await import('node:https') : await import('node:http')
  const headers = {...options.headers}
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body))

  return new Promise((resolve, reject) => {
    let settled = false
    const settle = (error: Error | undefined, response?: HttpResponse) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) reject(error)
      else resolve(response!)
    }

    const req = request(url, {method: options.method, headers}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', (error) => settle(error))
      res.on('end', () => settle(undefined, {status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8')}))
      // The connection dropped before the end of the body.
      res.on('close', () => {
        if (!res.complete) settle(Object.assign(new Error('The connection closed before the response was complete'), {code: 'ECONNRESET'}))
      })
    })
    const timer = setTimeout(() => {
      const error = Object.assign(new Error(`No complete response within ${options.timeoutMs} ms`), {name: 'TimeoutError', code: 'ETIMEDOUT'})
      settle(error)
      req.destroy(error)
    }, options.timeoutMs)
    req.on('error', (error) => settle(error))
    req.end(options.body)
  })
}
