/** Tokens minted with jose exactly as given (no defaults added), and an Auth in prod mode that trusts their key. */
import { Effect, Option, Redacted } from "effect"
import * as jose from "jose"
import { Auth, devUserId } from "../../src/services/auth/Auth.ts"

export const jwtSecret = "a-test-jwt-secret-of-at-least-thirty-two-characters"
export const jwtKey = new TextEncoder().encode(jwtSecret)
export const alice = "a11ce000-0000-4000-8000-000000000001"
export const nowSeconds = () => Math.floor(Date.now() / 1000)

export const prodAuth = Auth.make({
  mode: "prod",
  jwtSecret: Option.some(Redacted.make(jwtSecret)),
  jwksUrl: Option.none(),
  audience: "authenticated",
  issuer: Option.none(),
  serviceRoleKey: Option.none(),
  devUserId
})

/** Signs exactly `claims`, HS256 with the test key unless told otherwise. */
export const mint = (claims: jose.JWTPayload, signWith: Uint8Array = jwtKey, alg = "HS256") =>
  Effect.promise(() => new jose.SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(signWith))

/** A complete, valid user token's claims for `alice`. */
export const validClaims = () => ({ sub: alice, role: "authenticated", aud: "authenticated", exp: nowSeconds() + 600, iat: nowSeconds() })
