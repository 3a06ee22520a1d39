import {STATUS_PAGE_HTML, UNAUTHORIZED_PAGE_HTML} from './status-page/assets.generated.js'

/**
 * The status page: one self-contained document (the markup, stylesheet and script in status-page/, inlined by the
 * build; no external resource, no framework). Inline code runs under the per-response CSP nonce given here.
 */
export function renderStatusPage(nonce: string): string {
  return STATUS_PAGE_HTML.replaceAll('{{nonce}}', nonce)
}

/** The 401 page shown when the status page is opened without its token. */
export function renderUnauthorizedPage(nonce: string): string {
  return UNAUTHORIZED_PAGE_HTML.replaceAll('{{nonce}}', nonce)
}
