/**
 * One self-contained HTML document (inline CSS and SVG, no network unless an asset has a URL) for COGO UI
 * JSON: a whole document (`renderDocument`) or one tree from `public.*` (`renderTree`). Optionally with a
 * small live-reload script that re-renders on the project's realtime stream (see docs/preview.md).
 */
import type { CogoDocument, CogoWidget } from "../../domain/figma/CogoUi.ts"
import type { DesignToken } from "../../domain/figma/Uui.ts"
import { symbolTable } from "./components.ts"
import { escapeHtml } from "./html.ts"
import { renderRoots } from "./layout.ts"
import { tokenTable } from "./tokens.ts"

export interface RenderOptions {
  readonly title?: string
  /** Tokens of the project's themes; they win over the document's own theme (same ids). */
  readonly tokens?: ReadonlyArray<DesignToken>
  /** imageRef -> URL, for image fills whose asset has one. */
  readonly assets?: ReadonlyMap<string, string>
  /** Component trees by symbol id, to expand placeholder instances. */
  readonly symbols?: ReadonlyMap<string, CogoWidget>
  /** Adds the live-reload script for this project (its realtime stream), with this CSP nonce. */
  readonly live?: { readonly projectId: string; readonly nonce: string }
}

const STYLE = `*{margin:0;padding:0;box-sizing:border-box}
body{font-family:"DejaVu Sans",sans-serif;font-size:14px;line-height:normal;color:#000;background:#f4f5f7;padding:24px}
.root{display:flex;align-items:flex-start;margin-bottom:24px}
.n{position:relative;flex:none;box-sizing:border-box}
.t{display:block}`

/**
 * The reload script: on any event of the project's stream, fetch this URL again and swap the rendered
 * content (`data-renders` counts renders). The token, if the page was opened with one, is read from the
 * page's own URL, never written into the HTML.
 */
const liveScript = (projectId: string, nonce: string): string => `<script nonce="${escapeHtml(nonce)}">(() => {
  const token = new URLSearchParams(location.search).get("access_token");
  const url = "/functions/v1/realtime/projects/" + ${JSON.stringify(projectId).replace(/</g, "\\u003c")} + (token ? "?access_token=" + encodeURIComponent(token) : "");
  const root = document.getElementById("cogo-preview");
  let pending = false;
  const rerender = async () => {
    if (pending) return;
    pending = true;
    try {
      const response = await fetch(location.href, { cache: "no-store" });
      if (response.ok) {
        const next = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("cogo-preview");
        if (next) { root.innerHTML = next.innerHTML; root.dataset.renders = String(Number(root.dataset.renders) + 1); }
      }
    } finally { pending = false; }
  };
  const source = new EventSource(url);
  source.addEventListener("project", rerender);
  source.onmessage = rerender;
  source.onopen = () => { root.dataset.live = "open"; };
})();</script>`

const page = (body: string, options: RenderOptions): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
  `<title>${escapeHtml(options.title ?? "cogo preview")}</title><style>${STYLE}</style></head>` +
  `<body><main id="cogo-preview" data-renders="1">${body}</main>` +
  `${options.live === undefined ? "" : liveScript(options.live.projectId, options.live.nonce)}</body></html>`

const render = (roots: ReadonlyArray<CogoWidget>, ownTokens: ReadonlyArray<DesignToken>, options: RenderOptions): string => {
  let ids = 0
  const body = renderRoots(roots, {
    tokens: tokenTable([...ownTokens, ...(options.tokens ?? [])]),
    assets: options.assets ?? new Map(),
    symbols: symbolTable(roots, options.symbols ?? []),
    nextId: () => `cogo-g${++ids}`
  })
  return page(body, options)
}

export const renderDocument = (document: CogoDocument, options: RenderOptions = {}): string =>
  render(document.roots, document.theme.tokens, { ...options, title: options.title ?? document.name ?? "cogo preview" })

export const renderTree = (tree: CogoWidget, options: RenderOptions = {}): string => render([tree], [], options)
