/**
 * The observability pieces for `src/layers/Main.ts`: services (alerts, trace events, artifacts), the HttpApi
 * group handlers (traces, alerts, artifacts) and the raw routes (status page).
 */
import { Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { Alerts } from "../services/observability/Alerts.ts"
import { Artifacts } from "../services/observability/Artifacts.ts"
import { DatabaseMetricsLive } from "../services/observability/DatabaseMetrics.ts"
import { Telemetry } from "../services/observability/Telemetry.ts"
import { AlertsLive } from "../edge/observability/AlertsLive.ts"
import { ArtifactFilesRoute, ArtifactsLive } from "../edge/observability/ArtifactsLive.ts"
import { statusRoutes } from "../edge/observability/status/StatusRoutes.ts"
import { OperatorAccess } from "../services/observability/OperatorAccess.ts"
import { OperatorAuthenticationLive } from "../edge/observability/OperatorAuth.ts"
import { TracesLive } from "../edge/observability/TracesLive.ts"

/** Artifacts plus the recorder of finished jobs (the job queue comes from AgentsLive, below in Main.ts). */
const ArtifactServicesLive = Artifacts.jobRecorderLayer.pipe(Layer.provideMerge(Artifacts.layer))

/**
 * Operator access (and the HttpApi middleware the traces, alerts and projection groups declare); it checks
 * the service role through Auth (memoized: the instance EdgeServicesLive builds).
 */
const OperatorAccessLive = OperatorAuthenticationLive.pipe(Layer.provideMerge(OperatorAccess.layer))

export const ObservabilityServicesLive = Layer.mergeAll(Alerts.layer.pipe(Layer.provide(FetchHttpClient.layer)), ArtifactServicesLive, Telemetry.eventsLayer, DatabaseMetricsLive, OperatorAccessLive)

export const ObservabilityHandlersLive = Layer.mergeAll(TracesLive, AlertsLive, ArtifactsLive)

export const ObservabilityRoutesLive = Layer.mergeAll(ArtifactFilesRoute, ...statusRoutes)
