/**
 * The agents' part of the service graph: the job queue, the orchestrator (whose workers run as a scoped
 * background service of this process), one circuit breaker per external dependency, the LLM and embeddings
 * providers (OpenAI or offline), the indexing, research and executor agents, and the job kinds they register.
 * Needs `ProjectCommands` (the executor's "project.write" tool). Other areas register their kinds with
 * `Orchestrator.handler({...})` layers and their tools with `ExecutorAgent.tool(...)` layers.
 */
import { Layer } from "effect"
import { Breakers } from "../services/agents/Breakers.ts"
import { Embeddings } from "../services/agents/Embeddings.ts"
import { ExecutorAgent, ProjectToolsLive } from "../services/agents/ExecutorAgent.ts"
import { IndexingAgent } from "../services/agents/IndexingAgent.ts"
import { JobQueue } from "../services/jobs/JobQueue.ts"
import { Llm } from "../services/agents/Llm.ts"
import { LlmTools } from "../services/agents/LlmTools.ts"
import { ProjectTools } from "../services/agents/tools/ProjectTools.ts"
import { Orchestrator } from "../services/jobs/Orchestrator.ts"
import { ResearchAgent } from "../services/agents/ResearchAgent.ts"

export const AgentsLive = Layer.mergeAll(...IndexingAgent.jobs, ResearchAgent.jobs, ExecutorAgent.jobs, ProjectToolsLive).pipe(
  Layer.provideMerge(ExecutorAgent.layer),
  Layer.provideMerge(ProjectTools.layer),
  Layer.provideMerge(ResearchAgent.layer),
  Layer.provideMerge(IndexingAgent.layer),
  Layer.provideMerge(Layer.mergeAll(Llm.layer, LlmTools.layer, Embeddings.layer)),
  Layer.provideMerge(Breakers.layer),
  Layer.provideMerge(Orchestrator.layer),
  Layer.provideMerge(JobQueue.layer)
)
