/**
 * Authentication of edge calls: Supabase JWTs verified with `jose` (HS256 with `SUPABASE_JWT_SECRET`, and
 * asymmetric keys from `SUPABASE_JWKS_URL`), the service-role key for internal routes, and an explicit dev
 * mode that accepts a fixed dev user when no token is sent.
 *
 * Use it from HttpApi groups with `.middleware(Authentication)` (the handler then reads `CurrentUser`), and
 * from raw router routes with `Auth.authenticate(request)` / `Auth.requireServiceRole(request)`.
 *
 * Policy:
 * - a token that is present is always verified, in dev mode too (a bad token is 401, never "dev user");
 * - `alg: none` and any algorithm outside `allowedAlgorithms` are refused; `exp` is required;
 * - user tokens (`role: authenticated`) must carry the configured audience and a `sub`;
 * - `role: anon` tokens (Supabase's anon key) and missing tokens are anonymous: refused in prod, the dev
 *   user in dev; `role: service_role` tokens and the exact service-role key are the service principal.
 */
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import * as jose from "jose"
import { timingSafeEqual } from "node:crypto"
import { problem, Unauthorized } from "../../domain/platform/Problem.ts"
import { Database, type JwtClaims } from "../platform/Database.ts"
import { uuidPattern } from "../../domain/platform/Uuid.ts"

export type AuthMode = "dev" | "prod"

/** Who is calling. `userId` is the JWT subject (the dev user's id in dev mode, empty for the service). */
export interface Principal {
  readonly userId: string
  readonly role: "authenticated" | "service_role"
  /** The verified claims, as set into `request.jwt.claims` for RLS. */
  readonly claims: JwtClaims
  readonly via: "jwt" | "service-key" | "dev"
}

/** A stable key per caller (role + user id): scopes idempotency keys, chat runs and rate limits. */
export const principalKey = (principal: Principal): string => `${principal.role}:${principal.userId}`

/** The caller of the current request, provided by the `Authentication` middleware. */
export class CurrentUser extends Context.Service<CurrentUser, Principal>()("cogo/CurrentUser") {}

/** The fixed dev user (dev mode without a token). A stable UUID so `auth.uid()` casts. */
export const devUserId = "de000000-0000-4000-8000-000000000001"

export const allowedAlgorithms = ["HS256", "RS256", "ES256", "EdDSA", "PS256"] as const

const unauthorized = (detail: string) => new Unauthorized(problem(401, "unauthorized", "Unauthorized", detail))

export interface AuthSettings {
  readonly mode: AuthMode
  readonly jwtSecret: Option.Option<Redacted.Redacted<string>>
  readonly jwksUrl: Option.Option<URL>
  readonly audience: string
  readonly issuer: Option.Option<string>
  readonly serviceRoleKey: Option.Option<Redacted.Redacted<string>>
  readonly devUserId: string
}

/** Reads the auth keys; `COGO_AUTH_MODE` defaults to dev only on the embedded backend. */
export const authSettings = Effect.gen(function*() {
  const database = yield* Database
  const defaultMode: AuthMode = database.backend === "embedded" ? "dev" : "prod"
  return yield* Config.all({
    mode: Config.Literals(["dev", "prod"], "COGO_AUTH_MODE").pipe(Config.withDefault(defaultMode)),
    jwtSecret: Config.option(Config.Redacted("SUPABASE_JWT_SECRET")),
    jwksUrl: Config.option(Config.URL("SUPABASE_JWKS_URL")),
    audience: Config.String("SUPABASE_JWT_AUDIENCE").pipe(Config.withDefault("authenticated")),
    issuer: Config.option(Config.String("SUPABASE_JWT_ISSUER")),
    serviceRoleKey: Config.option(Config.Redacted("SUPABASE_SERVICE_ROLE_KEY")),
    devUserId: Config.String("COGO_DEV_USER_ID").pipe(Config.withDefault(devUserId))
  })
})

/** The bearer token of a request: `Authorization: Bearer …`, else the `apikey` header (supabase-js sends both). */
export const requestToken = (request: HttpServerRequest): string | undefined => {
  const authorization = request.headers["authorization"]
  if (authorization !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim())
    if (match?.[1] !== undefined) return match[1].trim()
  }
  const apikey = request.headers["apikey"]
  return apikey === undefined || apikey === "" ? undefined : apikey
}

const sameSecret = (a: string, b: string): boolean => {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

export class Auth extends Context.Service<Auth, {
  readonly mode: AuthMode
  /** Verifies a token: the principal, `undefined` for an anonymous (anon-key) token, or 401. */
  readonly verify: (token: string) => Effect.Effect<Principal | undefined, Unauthorized>
  /** The caller from a bearer token (or dev user); 401 when prod and anonymous, or when the token is bad. */
  readonly authenticateToken: (token: string | undefined) => Effect.Effect<Principal, Unauthorized>
  /** The same from a request's `Authorization`/`apikey` headers (for raw routes). */
  readonly authenticate: (request: HttpServerRequest) => Effect.Effect<Principal, Unauthorized>
  /** Internal routes: the exact service-role key or a verified `service_role` JWT; 401 otherwise, in every mode. */
  readonly requireServiceRole: (request: HttpServerRequest) => Effect.Effect<Principal, Unauthorized>
}>()("cogo/Auth") {
  static readonly make = (settings: AuthSettings) =>
    Effect.gen(function*() {
      const secretKey = Option.map(settings.jwtSecret, (secret) => new TextEncoder().encode(Redacted.value(secret)))
      const remoteKeys = Option.map(settings.jwksUrl, (url) => jose.createRemoteJWKSet(url, { cooldownDuration: 30_000 }))
      const keyFor: jose.JWTVerifyGetKey = async (header, token) => {
        if (header.alg === "HS256") {
          if (Option.isNone(secretKey)) throw new Error("HS256 token but SUPABASE_JWT_SECRET is not configured")
          return secretKey.value
        }
        if (Option.isNone(remoteKeys)) throw new Error(`${header.alg} token but SUPABASE_JWKS_URL is not configured`)
        return remoteKeys.value(header, token)
      }
      const serviceKey = Option.map(settings.serviceRoleKey, Redacted.value)
      const devPrincipal: Principal = {
        userId: settings.devUserId,
        role: "authenticated",
        claims: { sub: settings.devUserId, role: "authenticated", aud: settings.audience, dev: true },
        via: "dev"
      }

      const verifyJwt = Effect.fnUntraced(function*(token: string) {
        const verified = yield* Effect.tryPromise({
          try: () =>
            jose.jwtVerify(token, keyFor, {
              algorithms: [...allowedAlgorithms],
              requiredClaims: ["exp"],
              clockTolerance: 5,
              ...(Option.isSome(settings.issuer) ? { issuer: settings.issuer.value } : {})
            }),
          catch: (error) => unauthorized(`invalid token: ${error instanceof Error ? error.message : "verification failed"}`)
        })
        const claims = verified.payload
        const role = claims["role"]
        if (role === "anon") return undefined
        if (role === "service_role") {
          return { userId: "", role: "service_role", claims: { ...claims, sub: claims.sub ?? "", role }, via: "jwt" } satisfies Principal
        }
        if (role !== "authenticated") return yield* unauthorized(`role ${JSON.stringify(role)} is not accepted`)
        const audiences = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud]
        if (!audiences.includes(settings.audience)) {
          return yield* unauthorized(`audience must include ${JSON.stringify(settings.audience)}`)
        }
        const sub = claims.sub
        if (sub === undefined || !uuidPattern.test(sub)) return yield* unauthorized("sub must be a user id (uuid)")
        return { userId: sub, role: "authenticated", claims: { ...claims, sub, role }, via: "jwt" } satisfies Principal
      })
      // Tokens that verified, until their `exp` (at most 1,000, oldest dropped first): a client sends the same JWT
      // on every request, and each signature check costs ~0.1 ms of CPU (BENCHMARKS.md, "Performance (issue 16)").
      // A cache hit answers without a span (a span per request cost more than the lookup); a verification is traced.
      const verifiedTokens = new Map<string, { readonly principal: Principal; readonly expiresAtMs: number }>()
      const verifyAndCache = Effect.fn("Auth.verify")(function*(token: string) {
        verifiedTokens.delete(token)
        const principal = yield* verifyJwt(token)
        const exp = principal?.claims["exp"]
        if (principal !== undefined && typeof exp === "number") {
          if (verifiedTokens.size >= 1_000) verifiedTokens.delete(verifiedTokens.keys().next().value!)
          verifiedTokens.set(token, { principal, expiresAtMs: exp * 1000 })
        }
        return principal
      })
      const verify = (token: string): Effect.Effect<Principal | undefined, Unauthorized> => {
        if (Option.isSome(serviceKey) && sameSecret(token, serviceKey.value)) {
          return Effect.succeed({ userId: "", role: "service_role", claims: { sub: "", role: "service_role" }, via: "service-key" })
        }
        const cached = verifiedTokens.get(token)
        return cached !== undefined && cached.expiresAtMs > Date.now() ? Effect.succeed(cached.principal) : verifyAndCache(token)
      }

      const authenticateToken = (token: string | undefined): Effect.Effect<Principal, Unauthorized> =>
        Effect.gen(function*() {
          const principal = token === undefined || token === "" ? undefined : yield* verify(token)
          if (principal !== undefined) return principal
          if (settings.mode === "dev") return devPrincipal
          return yield* unauthorized("a user access token is required (Authorization: Bearer <jwt>)")
        })

      const authenticate = (request: HttpServerRequest) => authenticateToken(requestToken(request))

      const requireServiceRole = (request: HttpServerRequest) =>
        Effect.gen(function*() {
          const token = requestToken(request)
          const principal = token === undefined ? undefined : yield* verify(token)
          if (principal?.role === "service_role") return principal
          return yield* unauthorized("this route requires the service-role key")
        })

      return Auth.of({ mode: settings.mode, verify, authenticateToken, authenticate, requireServiceRole })
    })

  static readonly layer = Layer.effect(
    Auth,
    Effect.gen(function*() {
      const settings = yield* authSettings
      if (settings.mode === "dev") {
        yield* Effect.logWarning(
          `AUTH DEV MODE: requests without a token run as the fixed dev user ${settings.devUserId}. ` +
            "Never expose this service like this; set COGO_AUTH_MODE=prod."
        ).pipe(Effect.annotateLogs({ authMode: "dev" }))
      } else if (Option.isNone(settings.jwtSecret) && Option.isNone(settings.jwksUrl)) {
        yield* Effect.logWarning("COGO_AUTH_MODE=prod without SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL: every user call is refused")
      }
      return yield* Auth.make(settings)
    })
  )

  /**
   * For tests: `Auth.make` over explicit settings (prod mode, audience `authenticated`, no keys unless given),
   * without configuration or a database. Keys come only from the overrides; asymmetric keys only when a
   * `jwksUrl` is given (e.g. a local JWKS server).
   */
  static readonly layerTest = (overrides: Partial<AuthSettings> = {}) =>
    Layer.effect(Auth, Auth.make({
      mode: "prod",
      jwtSecret: Option.none(),
      jwksUrl: Option.none(),
      audience: "authenticated",
      issuer: Option.none(),
      serviceRoleKey: Option.none(),
      devUserId,
      ...overrides
    }))
}

/**
 * HttpApi middleware for every group: `.middleware(Authentication)` on a group (or endpoint) makes its
 * handlers require a caller and read it with `yield* CurrentUser`. Errors are 401 problem+json.
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentUser }>()("cogo/Authentication", {
  error: Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(Effect.service(Auth), (auth) =>
    Authentication.of({
      bearer: (httpEffect, { credential }) =>
        Effect.flatMap(auth.authenticateToken(Redacted.value(credential)), (principal) =>
          Effect.provideService(httpEffect, CurrentUser, principal))
    }))
)


