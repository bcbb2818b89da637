/**
 * Components and instances. An instance in COGO UI JSON carries its resolved tree (the component's tree
 * with the instance's overrides applied) in `child`, and the renderer draws that tree. An instance whose
 * `child` is only a placeholder (an empty SizedBox/Container, as an editor may write before resolving) is
 * expanded from its component's definition: the same document's SymbolDefinition, or the project's symbol.
 */
import type { CogoWidget } from "../../domain/figma/CogoUi.ts"

/** symbolId (the component's Figma id) -> the component's tree (a SymbolDefinition, or its child). */
export type SymbolTable = ReadonlyMap<string, CogoWidget>

const childrenOf = (widget: CogoWidget): ReadonlyArray<CogoWidget> =>
  "children" in widget ? widget.children : "child" in widget && widget.child !== undefined ? [widget.child] : []

/** Every SymbolDefinition in `roots` (iterative walk), then `extra` for ids the document does not define. */
export const symbolTable = (roots: ReadonlyArray<CogoWidget>, extra: Iterable<readonly [string, CogoWidget]> = []): SymbolTable => {
  const table = new Map<string, CogoWidget>(extra)
  const stack = [...roots]
  for (let widget = stack.pop(); widget !== undefined; widget = stack.pop()) {
    if (widget.type === "SymbolDefinition") table.set(widget.symbolId, widget)
    stack.push(...childrenOf(widget))
  }
  return table
}

const isPlaceholder = (widget: CogoWidget): boolean =>
  (widget.type === "SizedBox" && widget.child === undefined) ||
  (widget.type === "Container" && widget.child === undefined && widget.decoration === undefined)

/** The definition's tree below its SymbolDefinition wrapper. */
const definitionBody = (widget: CogoWidget): CogoWidget => (widget.type === "SymbolDefinition" ? widget.child : widget)

/**
 * `widget` with a placeholder instance in its wrapper chain expanded (the component's nodes keep their ids,
 * so `data-node-id` points at the component's layers). Unknown symbols stay placeholders.
 */
export const expandInstance = (widget: CogoWidget, symbols: SymbolTable, depth = 0): CogoWidget => {
  if (depth > 12 || !("child" in widget) || widget.child === undefined) return widget
  if (widget.type === "SymbolInstance") {
    if (!isPlaceholder(widget.child)) return widget
    const definition = symbols.get(widget.symbolId)
    return definition === undefined ? widget : { ...widget, child: definitionBody(definition) }
  }
  const child = expandInstance(widget.child, symbols, depth + 1)
  return child === widget.child ? widget : { ...widget, child } as CogoWidget
}
