import type { ConversionWarning } from "../../../domain/figma/ConversionWarning.ts"
import type { CogoDocument, CogoWidget } from "../../../domain/figma/CogoUi.ts"
import { type Layout, type UuiDocument, type UuiNode, type UuiRoot, UUI_SCHEMA_VERSION, type Vec2 } from "../../../domain/figma/Uui.ts"
import { boxShape, container, type Draft, imageNode, type ParentLayout, svgNode, textNode } from "./cogoToUui/nodes.ts"
import { alignmentToMain, flexLayout } from "./cogoToUui/values.ts"
import { compact } from "./compact.ts"
import type { Converted, Warn } from "./figmaToUui/context.ts"

/*
 * COGO UI JSON -> UUI. Accepts any schema-valid widget tree, not only what uuiToCogo emits: a node is the
 * chain of single-child widgets from a widget with an `id` (or a tree position) down to its core
 * (Column/Row/Wrap/Stack/Align/Text/RichText/Image/SvgPicture, or a childless box). Each wrapper fills one
 * slot of the node; a wrapper whose slot is already filled starts a nested node instead, so nothing is
 * overwritten. Widgets without an `id` get one from their tree position (`<parent id>/<index>`).
 *
 * This file folds the wrapper chains and walks the tree; cogoToUui/nodes.ts builds the nodes and
 * cogoToUui/values.ts maps the values.
 */

export const cogoToUui = (document: CogoDocument): Converted<UuiDocument> => {
  const warnings: Array<ConversionWarning> = []
  const warn: Warn = (nodeId, feature, action) => { warnings.push({ nodeId, feature, action }) }

  const childIds = (parentId: string, index: number) => `${parentId}/${index}`

  const children = (widgets: ReadonlyArray<CogoWidget>, parentId: string, layout: ParentLayout): Array<UuiNode> =>
    widgets.map((w, i) => toNode(w, childIds(parentId, i), layout))

  const layoutMode = (layout: Layout): ParentLayout => layout.mode

  /** A lone child widget inside a box or Align: a vertical layout aligned by `alignment` (if any). */
  const aligned = (draft: Draft, parent: ParentLayout, alignment: Vec2 | undefined, child: CogoWidget): UuiNode => {
    const layout: Layout = compact({
      mode: "vertical" as const,
      mainAlign: alignment === undefined ? undefined : alignmentToMain(alignment.y),
      crossAlign: alignment === undefined ? undefined : alignmentToMain(alignment.x)
    })
    return container(draft, parent, layout, [toNode(child, childIds(draft.id, 0), "vertical")], warn)
  }

  /** Folds `widget`'s wrapper chain into one draft, then converts its core. */
  const toNode = (start: CogoWidget, fallbackId: string, parent: ParentLayout): UuiNode => {
    const draft: Draft = { id: start.id ?? fallbackId }
    if (start.name !== undefined) draft.name = start.name
    let widget: CogoWidget = start
    for (;;) {
      // A nested widget with its own id is a nested node.
      if (widget !== start && widget.id !== undefined) return aligned(draft, parent, undefined, widget)
      switch (widget.type) {
        case "Positioned":
          if (draft.position !== undefined || draft.flex !== undefined) return aligned(draft, parent, undefined, widget)
          draft.position = compact({ x: widget.left, y: widget.top, constraints: widget.constraints })
          widget = widget.child
          continue
        case "Expanded":
        case "Flexible":
          if (draft.position !== undefined || draft.flex !== undefined) return aligned(draft, parent, undefined, widget)
          draft.flex = true
          widget = widget.child
          continue
        case "SymbolDefinition":
        case "SymbolSet":
        case "SymbolInstance":
          if (draft.symbol !== undefined) return aligned(draft, parent, undefined, widget)
          draft.symbol = widget
          widget = widget.child
          continue
        case "Screen":
          draft.screen = true
          widget = widget.child
          continue
        case "Visibility":
          if (!widget.visible) draft.hidden = true
          widget = widget.child
          continue
        case "Opacity":
          if (draft.opacity !== undefined) return aligned(draft, parent, undefined, widget)
          draft.opacity = widget.opacity
          widget = widget.child
          continue
        case "Transform":
          if (draft.rotation !== undefined || draft.flipX !== undefined || draft.flipY !== undefined) {
            return aligned(draft, parent, undefined, widget)
          }
          Object.assign(draft, compact({ rotation: widget.angle, flipX: widget.flipX, flipY: widget.flipY }))
          widget = widget.child
          continue
        case "ImageFiltered":
          if (draft.layerBlur !== undefined) return aligned(draft, parent, undefined, widget)
          draft.layerBlur = widget.blur
          widget = widget.child
          continue
        case "BackdropFilter":
          if (draft.backgroundBlur !== undefined) return aligned(draft, parent, undefined, widget)
          draft.backgroundBlur = widget.blur
          widget = widget.child
          continue
        case "ClipRRect":
          if (draft.clip !== undefined || draft.box === true) return aligned(draft, parent, undefined, widget)
          draft.clip = compact({ radius: widget.borderRadius })
          widget = widget.child
          continue
        case "Padding":
          if (draft.padding !== undefined) return aligned(draft, parent, undefined, widget)
          draft.padding = widget.padding
          widget = widget.child
          continue
        case "SizedBox":
        case "Container": {
          const padding = widget.type === "Container" ? widget.padding : undefined
          if (draft.box === true || (padding !== undefined && draft.padding !== undefined)) {
            return aligned(draft, parent, undefined, widget)
          }
          draft.box = true
          Object.assign(draft, compact({ width: widget.width, height: widget.height, padding }))
          if (widget.type === "Container") {
            Object.assign(draft, compact({
              limits: widget.constraints, decoration: widget.decoration, blendMode: widget.blendMode, theme: widget.theme
            }))
            if (widget.child !== undefined && widget.alignment !== undefined) {
              return aligned(draft, parent, widget.alignment, widget.child)
            }
          }
          if (widget.child === undefined) return boxShape(draft, parent, warn)
          widget = widget.child
          continue
        }
        case "Align":
          return aligned(draft, parent, widget.alignment, widget.child)
        case "Column":
        case "Row":
        case "Wrap": {
          const layout = flexLayout(widget)
          return container(draft, parent, layout, children(widget.children, draft.id, layoutMode(layout)), warn)
        }
        case "Stack":
          return stack(draft, parent, widget.children)
        case "Page":
          warn(draft.id, "nested-page", "Page below the root converted as a frame")
          return container(draft, parent, { mode: "none" }, children(widget.children, draft.id, "none"), warn)
        case "Text":
        case "RichText":
          return textNode(draft, parent, widget, warn)
        case "Image":
          return imageNode(draft, parent, widget, warn)
        case "SvgPicture":
          return svgNode(draft, parent, widget, warn)
      }
    }
  }

  /** Stack[Row|Column|Wrap without id, ...] is auto layout with absolute children (what uuiToCogo emits). */
  const stack = (draft: Draft, parent: ParentLayout, widgets: ReadonlyArray<CogoWidget>): UuiNode => {
    const [first, ...rest] = widgets
    if (first !== undefined && first.id === undefined && (first.type === "Row" || first.type === "Column" || first.type === "Wrap")) {
      const layout = flexLayout(first)
      const flow = children(first.children, draft.id, layoutMode(layout))
      const absolute = rest.map((w, i) => toNode(w, childIds(draft.id, flow.length + i), "none"))
      return container(draft, parent, layout, [...flow, ...absolute], warn)
    }
    return container(draft, parent, { mode: "none" }, children(widgets, draft.id, "none"), warn)
  }

  const rootNode = (widget: CogoWidget, index: number): UuiRoot => {
    if (widget.type === "Page") {
      const id = widget.id ?? `cogo:${index}`
      return compact({
        kind: "page" as const, id, name: widget.name, background: widget.backgroundColor,
        children: children(widget.children, id, "page")
      })
    }
    return toNode(widget, `cogo:${index}`, "root")
  }

  return {
    value: {
      schemaVersion: UUI_SCHEMA_VERSION,
      ...compact({ name: document.name }),
      roots: document.roots.map(rootNode),
      tokens: document.theme.tokens
    },
    warnings
  }
}
