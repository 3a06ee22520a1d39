/**
 * Turns what a tcp instance printed before it failed to boot into advice, for the platform's
 * common boot errors that show up locally: binding the TCP_URL port (the gateway's own) instead of
 * $PORT, or a port someone else holds.
 */
export function bootFailureHints(instance: string, lines: string[], gatewayPort: number): string[] {
  const text = lines.join('\n')
  if (!/EADDRINUSE/.test(text)) return []
  if (new RegExp(`[:\\s]${gatewayPort}\\b`).test(text)) {
    return [
      `${instance} tried to listen on ${gatewayPort}, the TCP_URL port, which belongs to the gateway: listen on $PORT instead.`,
    ]
  }

  return [`${instance} could not listen: its port is already in use (EADDRINUSE). Listen on the port in $PORT.`]
}
