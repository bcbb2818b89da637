/**
 * The figma-plugin signature check (src/edge/figma/signature.ts), directly. The known-answer vectors are
 * computed here with node:crypto from the documented definition, independently of the code's own signer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { createHmac } from "node:crypto"
import { figmaPluginSignature, signatureHeader, timestampHeader, verifyFigmaPluginSignature } from "../../src/edge/figma/signature.ts"

const secret = "unit-test-plugin-secret"
const timestamp = "1767225600" // 2026-01-01T00:00:00Z
const now = 1767225600
const body = new TextEncoder().encode("{\"projectId\":\"p\",\"document\":{}}")

/** The documented definition: hex(HMAC-SHA256(secret, "<timestamp>.<body>")). */
const byHand = (key: string, ts: string, bytes: Uint8Array) =>
  createHmac("sha256", Buffer.from(key, "utf8")).update(Buffer.concat([Buffer.from(`${ts}.`, "utf8"), Buffer.from(bytes)])).digest("hex")

const verify = (signature: string | undefined, options: { readonly ts?: string | undefined; readonly bytes?: Uint8Array; readonly at?: number } = {}) =>
  verifyFigmaPluginSignature(secret, {
    timestamp: "ts" in options ? options.ts : timestamp,
    signature,
    body: options.bytes ?? body
  }, 300, options.at ?? now)

const detail = (result: Result.Result<string, { readonly detail: string }>) => Result.isFailure(result) ? result.failure.detail : "accepted"

const refusal = (result: Result.Result<string, { readonly slug: string }>) => Result.isFailure(result) ? result.failure.slug : "accepted"

describe("figma-plugin signature", () => {
  it("signs a fixed request to a fixed value (known answer, computed with node:crypto, not the code's signer)", () => {
    const knownAnswer = "b8cc2ec3984201a1d8f3d9765987dd3e373ed49d8aea7957ebf8b9b4668ba0b8"
    assert.strictEqual(byHand(secret, timestamp, body), knownAnswer)
    assert.strictEqual(figmaPluginSignature(secret, timestamp, body), knownAnswer)
    assert.strictEqual(refusal(verify(`v1=${knownAnswer}`)), "accepted")
  })

  it("accepts the hand-computed signature (lower or upper case hex) and returns its digest", () => {
    const expected = byHand(secret, timestamp, body)
    const accepted = verify(`v1=${expected}`)
    assert.isTrue(Result.isSuccess(accepted))
    assert.strictEqual(Result.isSuccess(accepted) ? accepted.success : "", expected)
    assert.strictEqual(refusal(verify(`v1=${expected.toUpperCase()}`)), "accepted")
  })

  it("refuses a signature over another body, another timestamp or another secret", () => {
    const other = new TextEncoder().encode("{\"projectId\":\"q\",\"document\":{}}")
    assert.strictEqual(refusal(verify(`v1=${byHand(secret, timestamp, other)}`)), "signature-invalid")
    assert.strictEqual(refusal(verify(`v1=${byHand(secret, String(now - 1), body)}`)), "signature-invalid")
    assert.strictEqual(refusal(verify(`v1=${byHand("another-secret", timestamp, body)}`)), "signature-invalid")
    // One flipped bit in the body is enough.
    const flipped = Uint8Array.from(body)
    flipped[0] = flipped[0]! ^ 1
    assert.strictEqual(refusal(verify(`v1=${byHand(secret, timestamp, body)}`, { bytes: flipped })), "signature-invalid")
  })

  it("refuses missing and malformed headers before computing anything", () => {
    const good = `v1=${byHand(secret, timestamp, body)}`
    assert.strictEqual(refusal(verify(undefined)), "signature-missing")
    assert.strictEqual(refusal(verify(good, { ts: undefined })), "signature-missing")
    for (const signature of [byHand(secret, timestamp, body), `v2=${byHand(secret, timestamp, body)}`, `v1=${"a".repeat(63)}`, `v1=${"g".repeat(64)}`, `${good} `]) {
      assert.strictEqual(refusal(verify(signature)), "signature-malformed", signature)
    }
    for (const ts of ["-1", "1.5", "", "1234567890123", "17672256OO"]) {
      assert.strictEqual(refusal(verify(good, { ts })), "signature-malformed", ts)
    }
  })

  it("accepts a timestamp up to the window away from now, either way, and refuses one beyond it", () => {
    const signed = (ts: number) => `v1=${byHand(secret, String(ts), body)}`
    for (const skew of [-300, 0, 300]) {
      assert.strictEqual(refusal(verify(signed(now + skew), { ts: String(now + skew) })), "accepted", String(skew))
    }
    for (const skew of [-301, 301]) {
      assert.strictEqual(refusal(verify(signed(now + skew), { ts: String(now + skew) })), "signature-expired", String(skew))
    }
    // A correct signature far outside the window is still refused (a captured request cannot be replayed later).
    assert.strictEqual(refusal(verify(signed(now), { at: now + 3600 })), "signature-expired")
  })

  it("uses the documented header names (part of the wire format the plugin sends)", () => {
    assert.strictEqual(timestampHeader, "x-cogo-timestamp")
    assert.strictEqual(signatureHeader, "x-cogo-signature")
  })

  it("anchors the signature format at the start: a prefix before `v1=` is malformed", () => {
    const good = `v1=${byHand(secret, timestamp, body)}`
    assert.strictEqual(refusal(verify(`x${good}`)), "signature-malformed")
    assert.strictEqual(refusal(verify(`v0,${good}`)), "signature-malformed")
  })

  it("says why, naming the header or the window, in each refusal's detail", () => {
    const good = `v1=${byHand(secret, timestamp, body)}`
    assert.strictEqual(detail(verify(undefined)), "x-cogo-timestamp and x-cogo-signature headers are required")
    assert.strictEqual(detail(verify(good, { ts: "soon" })), "x-cogo-timestamp must be unix seconds")
    assert.strictEqual(detail(verify("v1=zz")), "x-cogo-signature must be v1=<64 hex digits>")
    assert.strictEqual(detail(verify(good, { at: now + 3600 })), "the signature timestamp is outside the 300 s window")
    assert.strictEqual(detail(verify(`v1=${"0".repeat(64)}`)), "the signature does not match the body")
  })
})
