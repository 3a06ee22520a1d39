/**
 * What the gateway throws: a code and the value at fault, in the gateway's own terms. It names no CLI flag: the
 * command layer (lib/proxy/options.ts, gatewayCliError) says which flag to change.
 */
export type GatewayErrorCode =
  /** listen(): the address is taken (`port` on `host`). */
  | 'EADDRINUSE'
  /** listen(): not allowed to listen there (a privileged port). */
  | 'EACCES'
  /** listen(): `host` is not an address of this machine. */
  | 'EADDRNOTAVAIL'
  /** listen(): any other failure; `cause` is the system error. */
  | 'ELISTEN'
  /** addBackend(): `backend` is registered already. */
  | 'EBACKENDEXISTS'

export class GatewayError extends Error {
  readonly code: GatewayErrorCode
  /** The address the gateway was asked to listen on (listen errors). */
  readonly host?: string
  readonly port?: number
  /** The backend id at fault (EBACKENDEXISTS). */
  readonly backend?: string
  /** The system error code behind a listen error (EADDRINUSE..., or what ELISTEN wraps). */
  readonly systemCode?: string

  constructor(
    code: GatewayErrorCode,
    message: string,
    details: {host?: string; port?: number; backend?: string; cause?: NodeJS.ErrnoException} = {},
  ) {
    super(message, details.cause ? {cause: details.cause} : undefined)
    this.name = 'GatewayError'
    this.code = code
    this.host = details.host
    this.port = details.port
    this.backend = details.backend
    this.systemCode = details.cause?.code
  }
}
