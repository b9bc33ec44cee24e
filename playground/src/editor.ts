/** The CodeMirror editors: the source (TypeScript, with lint and line highlights) and the emitted code. */
import { javascript } from "@codemirror/lang-javascript";
import { type Diagnostic as LintDiagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import {
  EditorState,
  type Extension,
  RangeSetBuilder,
  StateEffect,
  StateField,
} from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import type { Diagnostic } from "../../compiler/diagnostics.ts";

/** Lines to highlight: the checkpoint the run waits at, and the graph node clicked. */
export interface Highlights {
  readonly current: { readonly from: number; readonly to: number } | null;
  readonly selected: { readonly from: number; readonly to: number } | null;
}

const setHighlights = StateEffect.define<Highlights>();

const highlightField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    let next = value.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setHighlights)) continue;
      const builder = new RangeSetBuilder<Decoration>();
      const { doc } = tr.state;
      const marks = new Map<number, string[]>();
      const add = (range: Highlights["current"], cls: string) => {
        if (!range) return;
        for (let l = Math.max(1, range.from); l <= Math.min(doc.lines, range.to); l++) {
          marks.set(l, [...(marks.get(l) ?? []), cls]);
        }
      };
      add(effect.value.selected, "cm-selected-lines");
      add(effect.value.current, "cm-current-checkpoint");
      for (const l of [...marks.keys()].sort((a, b) => a - b)) {
        builder.add(
          doc.line(l).from,
          doc.line(l).from,
          Decoration.line({ class: marks.get(l)!.join(" ") }),
        );
      }
      next = builder.finish();
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export function createSourceEditor(
  parent: HTMLElement,
  doc: string,
  onChange: (code: string) => void,
): EditorView {
  const extensions: Extension[] = [
    basicSetup,
    javascript({ typescript: true }),
    EditorView.lineWrapping,
    lintGutter(),
    highlightField,
    EditorView.updateListener.of((update) => {
      if (update.docChanged) onChange(update.state.doc.toString());
    }),
  ];
  return new EditorView({ parent, state: EditorState.create({ doc, extensions }) });
}

export function createOutputView(parent: HTMLElement): EditorView {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: "",
      extensions: [
        basicSetup,
        javascript(),
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
      ],
    }),
  });
}

export function setDocument(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

/** Show the compiler's diagnostics inline, at their locations. */
export function showDiagnostics(view: EditorView, diagnostics: readonly Diagnostic[]): void {
  const { doc } = view.state;
  const at = (line: number, column: number) => {
    const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
    return Math.min(l.from + Math.max(column - 1, 0), l.to);
  };
  const items: LintDiagnostic[] = diagnostics.map((d) => {
    const from = at(d.line, d.column);
    const to = Math.max(from, at(d.endLine, d.endColumn));
    return {
      from,
      to,
      severity: d.severity,
      source: d.code,
      message: d.hint ? `${d.message}\n${d.hint}` : d.message,
    };
  });
  view.dispatch(setDiagnostics(view.state, items));
}

export function highlightLines(view: EditorView, highlights: Highlights, scrollTo?: number): void {
  const effects: StateEffect<unknown>[] = [setHighlights.of(highlights)];
  if (scrollTo !== undefined && scrollTo >= 1 && scrollTo <= view.state.doc.lines) {
    effects.push(EditorView.scrollIntoView(view.state.doc.line(scrollTo).from, { y: "center" }));
  }
  view.dispatch({ effects });
}
