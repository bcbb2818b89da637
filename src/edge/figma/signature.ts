/**
 * The figma-plugin request signature, pure: `v1=HMAC-SHA256(secret, "<timestamp>.<body>")` in hex, with the
 * timestamp in unix seconds within a window of the server clock. Used by the ingress (FigmaPluginLive.ts)
 * before anything of the body is parsed.
 */
import { Result } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"

export const timestampHeader = "x-cogo-timestamp"
export const signatureHeader = "x-cogo-signature"

/** `HMAC-SHA256(secret, "<timestamp>.<body>")`, the value after `v1=`. */
export const figmaPluginSignature = (secret: string, timestamp: string, body: Uint8Array | string): string =>
  createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")

const signaturePattern = /^v1=([0-9a-fA-F]{64})$/
const timestampPattern = /^\d{1,12}$/

/** Why a signature is refused (each one is a 401 with this slug). */
export interface SignatureRefusal {
  readonly slug: "signature-missing" | "signature-malformed" | "signature-expired" | "signature-invalid"
  readonly detail: string
}

export interface SignedRequest {
  readonly timestamp: string | undefined
  readonly signature: string | undefined
  readonly body: Uint8Array
}

/** The signature's hex digest when it is valid for `body` at `nowSeconds`, else why not. */
export const verifyFigmaPluginSignature = (
  secret: string,
  request: SignedRequest,
  windowSeconds: number,
  nowSeconds: number
): Result.Result<string, SignatureRefusal> => {
  const { timestamp, signature, body } = request
  if (timestamp === undefined || signature === undefined) {
    return Result.fail({ slug: "signature-missing", detail: `${timestampHeader} and ${signatureHeader} headers are required` })
  }
  if (!timestampPattern.test(timestamp)) return Result.fail({ slug: "signature-malformed", detail: `${timestampHeader} must be unix seconds` })
  const match = signaturePattern.exec(signature)
  if (match === null) return Result.fail({ slug: "signature-malformed", detail: `${signatureHeader} must be v1=<64 hex digits>` })
  if (Math.abs(nowSeconds - Number(timestamp)) > windowSeconds) {
    return Result.fail({ slug: "signature-expired", detail: `the signature timestamp is outside the ${windowSeconds} s window` })
  }
  const given = Buffer.from(match[1]!, "hex")
  const expected = Buffer.from(figmaPluginSignature(secret, timestamp, body), "hex")
  if (!timingSafeEqual(given, expected)) return Result.fail({ slug: "signature-invalid", detail: "the signature does not match the body" })
  return Result.succeed(expected.toString("hex"))
}
