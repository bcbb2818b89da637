/** `GET /alerts` (operators only): every alert rule with its state (firing first), value, threshold and since when. */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { AlertState } from "../../domain/observability/Observability.ts"
import { OperatorAuthentication } from "./OperatorAuth.ts"

export class AlertsApi extends HttpApiGroup.make("alerts").add(
  HttpApiEndpoint.get("alerts", "/alerts", { success: Schema.Struct({ alerts: Schema.Array(AlertState) }) })
).middleware(OperatorAuthentication) {}
