import ts from "typescript";
import { lineStartsOf, MappedWriter } from "./sourcemap.js";

/** Printed code and its source map segments. */
export interface PrintedCode {
  readonly text: string;
  /**
   * Flat, four numbers a segment: generated line (0-based, relative to `text`) and column,
   * source line and column in the module. Empty when printed without a map.
   */
  readonly segments: ArrayLike<number>;
}

const K = ts.SyntaxKind;
// Read once: the typescript module's exports are getters.
const { idText, tokenToString } = ts;
const { Synthesized, BlockScoped, Let, Const, Using, AwaitUsing, OptionalChain } = ts.NodeFlags;
type Rule = (expression: ts.Expression) => ts.Expression;
interface ParenthesizerRules {
  getParenthesizeLeftSideOfBinaryForOperator(operator: ts.SyntaxKind): Rule;
  getParenthesizeRightSideOfBinaryForOperator(operator: ts.SyntaxKind): Rule;
  parenthesizeExpressionOfComputedPropertyName: Rule;
  parenthesizeConditionOfConditionalExpression: Rule;
  parenthesizeBranchOfConditionalExpression: Rule;
  parenthesizeExpressionOfNew: Rule;
  parenthesizeLeftSideOfAccess: Rule;
  parenthesizeOperandOfPostfixUnary: Rule;
  parenthesizeOperandOfPrefixUnary: Rule;
  parenthesizeExpressionForDisallowedComma: Rule;
  parenthesizeExpressionOfExpressionStatement: Rule;
  parenthesizeConciseBodyOfArrowFunction: Rule;
}
const same: Rule = (expression) => expression;
/**
 * The parentheses TypeScript's printer adds where an expression stands (the factory adds most
 * of them when a node is made; the printer adds the rest, e.g. around a comma expression that
 * initializes a variable). Not in the public typings; without them, only the factory's.
 */
const rules: ParenthesizerRules =
  (ts.factory as { parenthesizer?: ParenthesizerRules }).parenthesizer ??
  new Proxy({} as ParenthesizerRules, {
    get: (_target, name) =>
      String(name).startsWith("get") ? () => same : (same as unknown as ParenthesizerRules),
  });

/** Wraps the expression in parentheses. */
const parenthesize: Rule = (expression) => ts.factory.createParenthesizedExpression(expression);

/**
 * A unary expression, which JavaScript does not allow as the left operand of `**` without
 * parentheses (`(-x) ** 2`; `-x ** 2` is a SyntaxError). The user's parentheses may be gone
 * when the passes rebuilt the operand around a temporary.
 */
function isUnaryOperand(node: ts.Expression): boolean {
  switch (node.kind) {
    case K.PrefixUnaryExpression:
    case K.TypeOfExpression:
    case K.VoidExpression:
    case K.DeleteExpression:
    case K.AwaitExpression:
    case K.TypeAssertionExpression:
      return true;
    default:
      return false;
  }
}

/**
 * The rule for the left side of a member access, call or `!`: a link of an optional chain
 * continues the chain before it as is (`a?.b.c`); in parentheses it would end the chain
 * there (`(a?.b).c` reads `c` of `undefined`). The factory makes such a link with the same
 * exception; TypeScript's printer applies the rule again only to substituted nodes.
 */
function leftSideOfAccess(node: ts.Node): Rule {
  return node.flags & OptionalChain ? leftOfChainLink : rules.parenthesizeLeftSideOfAccess;
}
const leftOfChainLink: Rule = (expression) =>
  expression.flags & OptionalChain ? expression : rules.parenthesizeLeftSideOfAccess(expression);

/** Statements that end in a semicolon, which the text may leave to automatic insertion. */
const endsInSemicolon = new Set<ts.SyntaxKind>([
  K.ExpressionStatement,
  K.VariableStatement,
  K.ReturnStatement,
  K.ThrowStatement,
  K.BreakStatement,
  K.ContinueStatement,
  K.DoStatement,
  K.DebuggerStatement,
  K.ImportDeclaration,
  K.ImportEqualsDeclaration,
  K.ExportDeclaration,
  K.ExportAssignment,
  K.TypeAliasDeclaration,
  K.PropertyDeclaration,
  K.MissingDeclaration,
]);

/**
 * Whether a statement (or class member) of the module, as written, needs a `;` after it
 * before something else may follow: the text leaves it to automatic semicolon insertion, which
 * the next line of the original made happen and printed code after it may not.
 */
function needsSemicolon(source: string, node: ts.Node): boolean {
  if (source.charCodeAt(node.end - 1) === 59) return false;
  let statement = node;
  for (;;) {
    switch (statement.kind) {
      case K.IfStatement: {
        const s = statement as ts.IfStatement;
        statement = s.elseStatement ?? s.thenStatement;
        continue;
      }
      case K.ForStatement:
      case K.ForInStatement:
      case K.ForOfStatement:
      case K.WhileStatement:
      case K.WithStatement:
      case K.LabeledStatement:
        statement = (statement as ts.IterationStatement | ts.LabeledStatement).statement;
        continue;
      default:
        return endsInSemicolon.has(statement.kind);
    }
  }
}

function isLineBreak(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

/** The first token at or after `pos`: blanks, line breaks and comments skipped. */
function skipTrivia(text: string, pos: number): number {
  for (;;) {
    const c = text.charCodeAt(pos);
    if (
      c === 32 ||
      c === 9 ||
      c === 11 ||
      c === 12 ||
      c === 0xa0 ||
      c === 0xfeff ||
      isLineBreak(c) ||
      (c > 0x7f && /\s/.test(text[pos]!))
    ) {
      pos++;
      continue;
    }
    if (c === 47 /* / */) {
      const next = text.charCodeAt(pos + 1);
      if (next === 47) {
        pos += 2;
        while (pos < text.length && !isLineBreak(text.charCodeAt(pos))) pos++;
        continue;
      }
      if (next === 42) {
        const close = text.indexOf("*/", pos + 2);
        pos = close === -1 ? text.length : close + 2;
        continue;
      }
    }
    if (c === 35 /* # */ && pos === 0 && text.charCodeAt(1) === 33 /* ! */) {
      while (pos < text.length && !isLineBreak(text.charCodeAt(pos))) pos++;
      continue;
    }
    return pos;
  }
}

/** A node made by the parser, unchanged: its text is the module's. */
function isParsed(node: ts.Node): boolean {
  return (node.flags & Synthesized) === 0 && node.pos >= 0;
}

/** The node a synthesized node was made from by `update…`, at the end of the chain. */
function parsedOriginal(node: ts.Node): ts.Node | undefined {
  let original = (node as { original?: ts.Node }).original;
  if (!original) return undefined;
  while ((original as { original?: ts.Node }).original) {
    original = (original as { original?: ts.Node }).original!;
  }
  return original.kind === node.kind && isParsed(original) ? original : undefined;
}

/** A node's children as `ts.forEachChild` visits them: nodes, and lists as lists. */
function childrenOf(node: ts.Node): (ts.Node | ts.NodeArray<ts.Node>)[] {
  const children: (ts.Node | ts.NodeArray<ts.Node>)[] = [];
  ts.forEachChild(
    node,
    (child) => {
      children.push(child);
    },
    (list) => {
      children.push(list);
    },
  );
  return children;
}

/** Whether `node` (synthesized) stands where `original` stood: made from it or over its text. */
function replaces(node: ts.Node, original: ts.Node): boolean {
  if (node.pos === original.pos && node.end === original.end) return true;
  if (parsedOriginal(node) === original) return true;
  return (
    node.kind === K.ParenthesizedExpression &&
    node.pos < 0 &&
    replaces((node as ts.ParenthesizedExpression).expression, original)
  );
}

/** One change to the original's text, in `printUpdated`. */
interface Change {
  /** Where the original child starts and ends (`undefined` start: only a `;` after `end`). */
  readonly start: number | undefined;
  readonly end: number;
  readonly node: ts.Node | undefined;
  readonly replaced: ts.Node | undefined;
}

function isComma(node: ts.Node): boolean {
  return (
    node.kind === K.BinaryExpression &&
    (node as ts.BinaryExpression).operatorToken.kind === K.CommaToken
  );
}

/** Whether a statement may end in an `if` without `else`, which an `else` after it would join. */
function endsInOpenIf(statement: ts.Statement): boolean {
  for (;;) {
    switch (statement.kind) {
      case K.IfStatement: {
        const s = statement as ts.IfStatement;
        if (!s.elseStatement) return true;
        statement = s.elseStatement;
        continue;
      }
      case K.ForStatement:
      case K.ForInStatement:
      case K.ForOfStatement:
      case K.WhileStatement:
      case K.WithStatement:
      case K.LabeledStatement:
        statement = (statement as ts.IterationStatement | ts.LabeledStatement).statement;
        continue;
      default:
        return false;
    }
  }
}

const operators: string[] = [];
/** A binary operator with the blanks around it: ` + `, `, `. */
function binaryOperator(kind: ts.SyntaxKind): string {
  let text = operators[kind];
  if (text === undefined) {
    text = kind === K.CommaToken ? ", " : ` ${tokenToString(kind)} `;
    operators[kind] = text;
  }
  return text;
}

const indents: string[] = [""];
function indentOf(depth: number): string {
  // A tab a level: the machine is read in the playground and in a debugger, but parsed by
  // every build, where four spaces a level made most of its size.
  while (indents.length <= depth) indents.push("\t".repeat(indents.length));
  return indents[depth]!;
}

const plainString = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
/** A string literal's text as TypeScript prints a synthesized one. */
function quote(text: string, single: boolean): string {
  const q = single ? "'" : '"';
  if (plainString.test(text) && !(single && text.includes("'"))) return q + text + q;
  let out = q;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ch = text[i]!;
    if (ch === q || ch === "\\") out += `\\${ch}`;
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c === 9) out += "\\t";
    else if (c === 8) out += "\\b";
    else if (c === 11) out += "\\v";
    else if (c === 12) out += "\\f";
    else if (c === 0) out += "\\0";
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`;
    else out += ch;
  }
  return out + q;
}

/**
 * Whether an identifier's text is code (from `codeExpression`): an object or an array literal,
 * as no name starts with `{` or `[`.
 */
function isCode(text: string): boolean {
  const c = text.charCodeAt(0);
  return c === 123 || c === 91;
}

/**
 * A JSON-shaped object or array (the manifest) as an expression whose code is already
 * written: the text this printer gives the literal built of it node by node (the outer object
 * one property a line, nested objects and arrays on one line, strings quoted as `quote` does), at depth 0; its lines
 * are indented to where it stands when printed. It is an identifier whose text is that code,
 * so TypeScript's printer (the `ratchetjs/tsc` front end) writes it as it is too (its lines
 * then keep depth 0's indentation).
 */
export function codeExpression(value: unknown): ts.Expression {
  return ts.factory.createIdentifier(literalCode(value, 0));
}

const identifierName = /^[A-Za-z_$][\w$]*$/;

function literalCode(value: unknown, depth: number): string {
  if (value === null) return "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ", ";
      out += literalCode(value[i], depth);
    }
    return `${out}]`;
  }
  switch (typeof value) {
    case "string":
      return quote(value, false);
    case "number":
      return value < 0 ? `-${-value}` : `${value}`;
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) return "{}";
      if (depth > 0) {
        // Nested objects (a checkpoint, the temporaries) on one line.
        let out = "{ ";
        for (let i = 0; i < entries.length; i++) {
          const [key, item] = entries[i]!;
          if (i > 0) out += ", ";
          out += identifierName.test(key) ? key : quote(key, false);
          out += `: ${literalCode(item, depth + 1)}`;
        }
        return `${out} }`;
      }
      const indent = indentOf(depth + 1);
      let out = "{";
      for (let i = 0; i < entries.length; i++) {
        const [key, item] = entries[i]!;
        out += i > 0 ? `,\n${indent}` : `\n${indent}`;
        out += identifierName.test(key) ? key : quote(key, false);
        out += `: ${literalCode(item, depth + 1)}`;
      }
      return `${out}\n${indentOf(depth)}}`;
    }
    default:
      return "undefined";
  }
}

/** A template literal part's text, for one made by the compiler (with no raw text). */
function templateText(node: ts.TemplateLiteralLikeNode): string {
  const raw = (node as { rawText?: string }).rawText;
  if (raw !== undefined) return raw;
  return node.text.replace(/[`\\]|\$\{/g, (m) => `\\${m}`);
}

/**
 * Prints the machines the passes made, each an expression, as TypeScript source. The passes
 * build them from the user's nodes: a node the parser made and nothing changed is copied from
 * the module as written (types and comments included; the bundler strips types as for the rest
 * of the module); a node the passes made by updating one of the user's (a renamed variable
 * somewhere inside) is the user's text with the changed children printed in their place; the
 * rest — the machine's own code — is printed here. Every node the passes gave a position in the
 * module leads back to it in the source map, and copied text word by word.
 *
 * The node kinds printed here are the ones the passes make; any other kind is left to
 * TypeScript's printer (no finer map inside it than its start).
 */
class MachinePrinter {
  readonly #source: string;
  readonly #sourceFile: ts.SourceFile;
  readonly #lineStarts: readonly number[] | undefined;
  #out!: MappedWriter;
  #depth = 0;
  #tsPrinter: ts.Printer | undefined;

  constructor(sourceFile: ts.SourceFile, sourceMap: boolean) {
    this.#sourceFile = sourceFile;
    this.#source = sourceFile.text;
    this.#lineStarts = sourceMap ? lineStartsOf(sourceFile.text) : undefined;
  }

  print(expression: ts.Expression): PrintedCode {
    this.#out = new MappedWriter(this.#source, this.#lineStarts);
    this.#depth = 0;
    this.node(expression);
    return { text: this.#out.text(), segments: this.#out.segments ?? [] };
  }

  // ---- copied and updated user code --------------------------------------------------

  /** Print any node: copied, updated, or made here. */
  node(node: ts.Node): void {
    if (isParsed(node)) {
      this.#out.copy(node.getStart(this.#sourceFile), node.end);
      return;
    }
    if (this.#printUpdated(node)) return;
    this.#printMade(node);
  }

  /** Print a statement (or class member), with a `;` where the text left it out. */
  statement(node: ts.Node): void {
    if (isParsed(node)) {
      this.#out.copy(node.getStart(this.#sourceFile), node.end);
      if (needsSemicolon(this.#source, node)) this.#out.write(";");
      return;
    }
    const original = this.#printUpdated(node);
    if (original) {
      if (needsSemicolon(this.#source, original)) this.#out.write(";");
      return;
    }
    this.#printMade(node);
  }

  expression(node: ts.Expression, rule: Rule = same): void {
    this.node(rule(node));
  }

  /**
   * A node `update…` made from one of the user's: the user's text, with each child that
   * changed printed over the child it replaces. Returns the user's node, or `undefined` (and
   * prints nothing) when the children do not line up with the original's one for one.
   */
  #printUpdated(node: ts.Node): ts.Node | undefined {
    const original = parsedOriginal(node);
    if (!original) return undefined;
    const now = childrenOf(node);
    const before = childrenOf(original);
    if (now.length !== before.length) return undefined;
    const sourceFile = this.#sourceFile;
    const source = this.#source;
    const changes: Change[] = [];
    let at = original.getStart(sourceFile);
    const change = (child: ts.Node, old: ts.Node): boolean => {
      if (!replaces(child, old)) return false;
      const start = old.getStart(sourceFile);
      if (start < at) return false;
      changes.push({ start, end: old.end, node: child, replaced: old });
      at = old.end;
      return true;
    };
    for (let i = 0; i < now.length; i++) {
      const a = now[i]!;
      const b = before[i]!;
      if (a === b) continue;
      const list = Array.isArray(a);
      if (list !== Array.isArray(b)) return undefined;
      if (!list) {
        if (!change(a as ts.Node, b as ts.Node)) return undefined;
        continue;
      }
      const items = a as ts.NodeArray<ts.Node>;
      const old = b as ts.NodeArray<ts.Node>;
      if (items.length !== old.length) return undefined;
      for (let j = 0; j < items.length; j++) {
        if (items[j] !== old[j] && !change(items[j]!, old[j]!)) return undefined;
        // Statements in a list: the text's own semicolons, now that what follows may differ.
        if (needsSemicolon(source, old[j]!)) {
          if (old[j]!.end < at) return undefined;
          changes.push({
            start: undefined,
            end: old[j]!.end,
            node: undefined,
            replaced: undefined,
          });
          at = old[j]!.end;
        }
      }
    }
    const out = this.#out;
    let from = original.getStart(sourceFile);
    for (const { start, end, node: child, replaced } of changes) {
      if (start === undefined) {
        out.copy(from, end);
        out.write(";");
      } else {
        out.copy(from, start);
        // A comma expression where the text had something else keeps its meaning in parentheses.
        if (isComma(child!) && !isComma(replaced!) && original.kind !== K.ParenthesizedExpression) {
          out.write("(");
          this.node(child!);
          out.write(")");
        } else {
          this.node(child!);
        }
      }
      from = end;
    }
    out.copy(from, original.end);
    return original;
  }

  // ---- code made by the passes -------------------------------------------------------

  /** Where the node leads in the source map: its source-map range, else its own. */
  #mark(node: ts.Node): void {
    const range = (node as { emitNode?: { sourceMapRange?: ts.SourceMapRange } }).emitNode
      ?.sourceMapRange;
    const pos = range ? range.pos : node.pos;
    if (pos < 0 || !this.#lineStarts) return;
    this.#out.mark(skipTrivia(this.#source, pos));
  }

  #newLine(): void {
    this.#out.newLine(indentOf(this.#depth));
  }

  #list(nodes: readonly ts.Node[], rule?: Rule): void {
    for (let i = 0; i < nodes.length; i++) {
      if (i > 0) this.#out.write(", ");
      if (rule) this.expression(nodes[i] as ts.Expression, rule);
      else this.node(nodes[i]!);
    }
  }

  #typeArguments(nodes: readonly ts.Node[] | undefined): void {
    if (!nodes) return;
    this.#out.write("<");
    this.#list(nodes);
    this.#out.write(">");
  }

  #type(type: ts.Node | undefined): void {
    if (!type) return;
    this.#out.write(": ");
    this.node(type);
  }

  #modifiers(modifiers: readonly ts.Node[] | undefined): void {
    if (!modifiers) return;
    for (const modifier of modifiers) {
      this.node(modifier);
      this.#out.write(" ");
    }
  }

  /** `{`, the statements one a line, `}`. */
  #block(statements: readonly ts.Node[]): void {
    const out = this.#out;
    if (statements.length === 0) {
      out.write("{ }");
      return;
    }
    out.write("{");
    this.#depth++;
    for (const statement of statements) {
      this.#newLine();
      this.statement(statement);
    }
    this.#depth--;
    this.#newLine();
    out.write("}");
  }

  /** The statement of an `if` or a loop: a block after a space, else on a line of its own. */
  #embedded(statement: ts.Statement): void {
    if (statement.kind === K.Block) {
      this.#out.write(" ");
      this.statement(statement);
      return;
    }
    this.#depth++;
    this.#newLine();
    this.statement(statement);
    this.#depth--;
  }

  #parameters(parameters: readonly ts.Node[]): void {
    this.#out.write("(");
    this.#list(parameters);
    this.#out.write(")");
  }

  #functionBody(body: ts.Node | undefined): void {
    if (!body) {
      this.#out.write(";");
      return;
    }
    this.#out.write(" ");
    this.node(body);
  }

  #name(node: ts.Node | undefined): void {
    if (node) this.node(node);
  }

  /** `break`, `continue`, `return` or `throw`, with its label or operand when it has one. */
  #keywordStatement(keyword: string, operand: ts.Node | undefined): void {
    this.#out.write(keyword);
    if (operand) {
      this.#out.write(" ");
      this.node(operand);
    }
    this.#out.write(";");
  }

  #printMade(node: ts.Node): void {
    const out = this.#out;
    this.#mark(node);
    switch (node.kind) {
      // The most frequent kinds first.
      case K.Identifier: {
        const text = idText(node as ts.Identifier);
        if (isCode(text)) {
          // Made by `codeExpression`: code, written as it is, each line at this depth.
          out.writeLines(
            this.#depth === 0 ? text : text.replaceAll("\n", `\n${indentOf(this.#depth)}`),
          );
        } else {
          out.write(text);
        }
        return;
      }
      case K.NumericLiteral:
      case K.BigIntLiteral:
      case K.RegularExpressionLiteral:
        out.write((node as ts.LiteralExpression).text);
        return;
      case K.PropertyAssignment: {
        const n = node as ts.PropertyAssignment;
        this.node(n.name);
        out.write(": ");
        this.expression(n.initializer, rules.parenthesizeExpressionForDisallowedComma);
        return;
      }
      case K.StringLiteral: {
        const n = node as ts.StringLiteral & { singleQuote?: boolean };
        out.write(quote(n.text, n.singleQuote === true));
        return;
      }
      case K.BinaryExpression: {
        const n = node as ts.BinaryExpression;
        const operator = n.operatorToken.kind;
        this.expression(
          n.left,
          operator === K.AsteriskAsteriskToken && isUnaryOperand(n.left)
            ? parenthesize
            : rules.getParenthesizeLeftSideOfBinaryForOperator(operator),
        );
        out.write(binaryOperator(operator));
        this.expression(n.right, rules.getParenthesizeRightSideOfBinaryForOperator(operator));
        return;
      }
      case K.ExpressionStatement:
        this.expression(
          (node as ts.ExpressionStatement).expression,
          rules.parenthesizeExpressionOfExpressionStatement,
        );
        out.write(";");
        return;
      case K.ShorthandPropertyAssignment: {
        const n = node as ts.ShorthandPropertyAssignment;
        this.node(n.name);
        if (n.objectAssignmentInitializer) {
          out.write(" = ");
          this.expression(
            n.objectAssignmentInitializer,
            rules.parenthesizeExpressionForDisallowedComma,
          );
        }
        return;
      }
      case K.ArrayLiteralExpression: {
        const elements = (node as ts.ArrayLiteralExpression).elements;
        out.write("[");
        this.#list(elements, rules.parenthesizeExpressionForDisallowedComma);
        if (elements.length > 0 && elements[elements.length - 1]!.kind === K.OmittedExpression) {
          out.write(",");
        }
        out.write("]");
        return;
      }
      case K.ObjectLiteralExpression: {
        const n = node as ts.ObjectLiteralExpression;
        if (n.properties.length === 0) {
          out.write("{}");
          return;
        }
        if (!(n as { multiLine?: boolean }).multiLine) {
          out.write("{ ");
          this.#list(n.properties);
          out.write(" }");
          return;
        }
        out.write("{");
        this.#depth++;
        n.properties.forEach((property, i) => {
          if (i > 0) out.write(",");
          this.#newLine();
          this.node(property);
        });
        this.#depth--;
        this.#newLine();
        out.write("}");
        return;
      }
      case K.VariableDeclaration: {
        const n = node as ts.VariableDeclaration;
        this.node(n.name);
        if (n.exclamationToken) out.write("!");
        this.#type(n.type);
        if (n.initializer) {
          out.write(" = ");
          this.expression(n.initializer, rules.parenthesizeExpressionForDisallowedComma);
        }
        return;
      }
      case K.CaseClause:
      case K.DefaultClause: {
        const n = node as ts.CaseClause;
        if (node.kind === K.CaseClause) {
          out.write("case ");
          this.expression(n.expression, rules.parenthesizeExpressionForDisallowedComma);
          out.write(":");
        } else {
          out.write("default:");
        }
        if (n.statements.length === 1) {
          // One statement stays on the clause's line, as TypeScript prints it.
          out.write(" ");
          this.statement(n.statements[0]!);
          return;
        }
        this.#depth++;
        for (const statement of n.statements) {
          this.#newLine();
          this.statement(statement);
        }
        this.#depth--;
        return;
      }
      case K.BreakStatement:
      case K.ContinueStatement:
        this.#keywordStatement(
          node.kind === K.BreakStatement ? "break" : "continue",
          (node as ts.BreakStatement).label,
        );
        return;
      case K.YieldExpression: {
        const n = node as ts.YieldExpression;
        out.write(n.asteriskToken ? "yield*" : "yield");
        if (n.expression) {
          out.write(" ");
          this.expression(n.expression, rules.parenthesizeExpressionForDisallowedComma);
        }
        return;
      }
      case K.CallExpression: {
        const n = node as ts.CallExpression;
        this.expression(n.expression, leftSideOfAccess(n));
        if (n.questionDotToken) out.write("?.");
        this.#typeArguments(n.typeArguments);
        out.write("(");
        this.#list(n.arguments, rules.parenthesizeExpressionForDisallowedComma);
        out.write(")");
        return;
      }
      case K.PropertyAccessExpression: {
        const n = node as ts.PropertyAccessExpression;
        const object = leftSideOfAccess(n)(n.expression);
        this.node(object);
        if (n.questionDotToken) out.write("?.");
        else {
          // `1.x` would read as a number: `1..x`.
          if (
            object.kind === K.NumericLiteral &&
            /^\d+$/.test((object as ts.NumericLiteral).text)
          ) {
            out.write(".");
          }
          out.write(".");
        }
        this.node(n.name);
        return;
      }
      case K.PrivateIdentifier:
        out.write((node as ts.PrivateIdentifier).text);
        return;
      case K.NoSubstitutionTemplateLiteral:
        out.writeLines(`\`${templateText(node as ts.NoSubstitutionTemplateLiteral)}\``);
        return;
      case K.TemplateHead:
        out.writeLines(`\`${templateText(node as ts.TemplateHead)}\${`);
        return;
      case K.TemplateMiddle:
        out.writeLines(`}${templateText(node as ts.TemplateMiddle)}\${`);
        return;
      case K.TemplateTail:
        out.writeLines(`}${templateText(node as ts.TemplateTail)}\``);
        return;
      case K.TrueKeyword:
      case K.FalseKeyword:
      case K.NullKeyword:
      case K.ThisKeyword:
      case K.SuperKeyword:
      case K.AsyncKeyword:
      case K.StaticKeyword:
      case K.ExportKeyword:
      case K.DefaultKeyword:
      case K.ConstKeyword:
      case K.DeclareKeyword:
      case K.AbstractKeyword:
      case K.AccessorKeyword:
      case K.PublicKeyword:
      case K.PrivateKeyword:
      case K.ProtectedKeyword:
      case K.ReadonlyKeyword:
      case K.OverrideKeyword:
      case K.AsteriskToken:
      case K.QuestionToken:
      case K.QuestionDotToken:
      case K.DotDotDotToken:
      case K.ExclamationToken:
        out.write(tokenToString(node.kind)!);
        return;
      case K.ElementAccessExpression: {
        const n = node as ts.ElementAccessExpression;
        this.expression(n.expression, leftSideOfAccess(n));
        out.write(n.questionDotToken ? "?.[" : "[");
        this.node(n.argumentExpression);
        out.write("]");
        return;
      }
      case K.NewExpression: {
        const n = node as ts.NewExpression;
        out.write("new ");
        this.expression(n.expression, rules.parenthesizeExpressionOfNew);
        this.#typeArguments(n.typeArguments);
        out.write("(");
        if (n.arguments) this.#list(n.arguments, rules.parenthesizeExpressionForDisallowedComma);
        out.write(")");
        return;
      }
      case K.TaggedTemplateExpression: {
        const n = node as ts.TaggedTemplateExpression;
        this.expression(n.tag, rules.parenthesizeLeftSideOfAccess);
        this.#typeArguments(n.typeArguments);
        this.node(n.template);
        return;
      }
      case K.TemplateExpression: {
        const n = node as ts.TemplateExpression;
        this.node(n.head);
        for (const span of n.templateSpans) this.node(span);
        return;
      }
      case K.TemplateSpan: {
        const n = node as ts.TemplateSpan;
        this.node(n.expression);
        this.node(n.literal);
        return;
      }
      case K.ParenthesizedExpression:
        out.write("(");
        this.node((node as ts.ParenthesizedExpression).expression);
        out.write(")");
        return;
      case K.FunctionExpression:
      case K.FunctionDeclaration: {
        const n = node as ts.FunctionExpression | ts.FunctionDeclaration;
        this.#modifiers(n.modifiers);
        out.write(n.asteriskToken ? "function* " : "function ");
        this.#name(n.name);
        this.#typeArguments(n.typeParameters);
        this.#parameters(n.parameters);
        this.#type(n.type);
        this.#functionBody(n.body);
        return;
      }
      case K.ArrowFunction: {
        const n = node as ts.ArrowFunction;
        this.#modifiers(n.modifiers);
        this.#typeArguments(n.typeParameters);
        const only = n.parameters.length === 1 ? n.parameters[0]! : undefined;
        if (
          only &&
          only.pos === n.pos &&
          !n.type &&
          !n.modifiers &&
          !n.typeParameters &&
          !only.modifiers &&
          !only.dotDotDotToken &&
          !only.questionToken &&
          !only.type &&
          !only.initializer &&
          only.name.kind === K.Identifier
        ) {
          // `x => …`, as TypeScript prints an arrow function it made with one plain parameter.
          this.node(only);
        } else {
          this.#parameters(n.parameters);
        }
        this.#type(n.type);
        out.write(" => ");
        if (n.body.kind === K.Block) this.node(n.body);
        else this.expression(n.body as ts.Expression, rules.parenthesizeConciseBodyOfArrowFunction);
        return;
      }
      case K.ClassExpression:
      case K.ClassDeclaration: {
        const n = node as ts.ClassLikeDeclaration;
        this.#modifiers(n.modifiers);
        out.write("class");
        if (n.name) {
          out.write(" ");
          this.node(n.name);
        }
        this.#typeArguments(n.typeParameters);
        for (const clause of n.heritageClauses ?? []) {
          out.write(" ");
          this.node(clause);
        }
        out.write(" ");
        this.#block(n.members);
        return;
      }
      case K.HeritageClause: {
        const n = node as ts.HeritageClause;
        out.write(n.token === K.ExtendsKeyword ? "extends " : "implements ");
        this.#list(n.types);
        return;
      }
      case K.ExpressionWithTypeArguments: {
        const n = node as ts.ExpressionWithTypeArguments;
        this.expression(n.expression, rules.parenthesizeLeftSideOfAccess);
        this.#typeArguments(n.typeArguments);
        return;
      }
      case K.Decorator:
        out.write("@");
        this.expression((node as ts.Decorator).expression, rules.parenthesizeLeftSideOfAccess);
        return;
      case K.PrefixUnaryExpression: {
        const n = node as ts.PrefixUnaryExpression;
        out.write(tokenToString(n.operator)!);
        const operand = rules.parenthesizeOperandOfPrefixUnary(n.operand);
        // `- -x`, `+ +x`, `- --x`: not `--x`, `++x`, `---x`.
        if (
          operand.kind === K.PrefixUnaryExpression &&
          ((n.operator === K.PlusToken &&
            ((operand as ts.PrefixUnaryExpression).operator === K.PlusToken ||
              (operand as ts.PrefixUnaryExpression).operator === K.PlusPlusToken)) ||
            (n.operator === K.MinusToken &&
              ((operand as ts.PrefixUnaryExpression).operator === K.MinusToken ||
                (operand as ts.PrefixUnaryExpression).operator === K.MinusMinusToken)))
        ) {
          out.write(" ");
        }
        this.node(operand);
        return;
      }
      case K.PostfixUnaryExpression: {
        const n = node as ts.PostfixUnaryExpression;
        this.expression(n.operand, rules.parenthesizeOperandOfPostfixUnary);
        out.write(tokenToString(n.operator)!);
        return;
      }
      case K.TypeOfExpression:
      case K.VoidExpression:
      case K.DeleteExpression:
      case K.AwaitExpression: {
        const n = node as ts.TypeOfExpression;
        out.write(
          node.kind === K.TypeOfExpression
            ? "typeof "
            : node.kind === K.VoidExpression
              ? "void "
              : node.kind === K.DeleteExpression
                ? "delete "
                : "await ",
        );
        this.expression(n.expression, rules.parenthesizeOperandOfPrefixUnary);
        return;
      }
      case K.ConditionalExpression: {
        const n = node as ts.ConditionalExpression;
        this.expression(n.condition, rules.parenthesizeConditionOfConditionalExpression);
        out.write(" ? ");
        this.expression(n.whenTrue, rules.parenthesizeBranchOfConditionalExpression);
        out.write(" : ");
        this.expression(n.whenFalse, rules.parenthesizeBranchOfConditionalExpression);
        return;
      }
      case K.SpreadElement:
      case K.SpreadAssignment:
        out.write("...");
        this.expression(
          (node as ts.SpreadElement).expression,
          rules.parenthesizeExpressionForDisallowedComma,
        );
        return;
      case K.AsExpression:
      case K.SatisfiesExpression: {
        const n = node as ts.AsExpression;
        this.node(n.expression);
        out.write(node.kind === K.AsExpression ? " as " : " satisfies ");
        this.node(n.type);
        return;
      }
      case K.NonNullExpression:
        this.expression((node as ts.NonNullExpression).expression, leftSideOfAccess(node));
        out.write("!");
        return;
      case K.OmittedExpression:
        return;
      case K.ComputedPropertyName:
        out.write("[");
        this.expression(
          (node as ts.ComputedPropertyName).expression,
          rules.parenthesizeExpressionOfComputedPropertyName,
        );
        out.write("]");
        return;
      case K.MethodDeclaration:
      case K.GetAccessor:
      case K.SetAccessor:
      case K.Constructor: {
        const n = node as ts.MethodDeclaration | ts.AccessorDeclaration | ts.ConstructorDeclaration;
        this.#modifiers(n.modifiers);
        if (node.kind === K.GetAccessor) out.write("get ");
        else if (node.kind === K.SetAccessor) out.write("set ");
        if (node.kind === K.Constructor) out.write("constructor");
        else {
          const m = n as ts.MethodDeclaration;
          if (m.asteriskToken) out.write("*");
          this.node(m.name);
          if (m.questionToken) out.write("?");
        }
        this.#typeArguments(n.typeParameters);
        this.#parameters(n.parameters);
        this.#type(n.type);
        this.#functionBody(n.body);
        return;
      }
      case K.Parameter: {
        const n = node as ts.ParameterDeclaration;
        this.#modifiers(n.modifiers);
        if (n.dotDotDotToken) out.write("...");
        this.node(n.name);
        if (n.questionToken) out.write("?");
        this.#type(n.type);
        if (n.initializer) {
          out.write(" = ");
          this.expression(n.initializer, rules.parenthesizeExpressionForDisallowedComma);
        }
        return;
      }
      case K.ObjectBindingPattern: {
        const elements = (node as ts.ObjectBindingPattern).elements;
        if (elements.length === 0) {
          out.write("{}");
          return;
        }
        out.write("{ ");
        this.#list(elements);
        out.write(" }");
        return;
      }
      case K.ArrayBindingPattern: {
        const elements = (node as ts.ArrayBindingPattern).elements;
        out.write("[");
        this.#list(elements);
        if (elements.length > 0 && elements[elements.length - 1]!.kind === K.OmittedExpression) {
          out.write(",");
        }
        out.write("]");
        return;
      }
      case K.BindingElement: {
        const n = node as ts.BindingElement;
        if (n.dotDotDotToken) out.write("...");
        if (n.propertyName) {
          this.node(n.propertyName);
          out.write(": ");
        }
        this.node(n.name);
        if (n.initializer) {
          out.write(" = ");
          this.expression(n.initializer, rules.parenthesizeExpressionForDisallowedComma);
        }
        return;
      }
      case K.VariableDeclarationList: {
        const n = node as ts.VariableDeclarationList;
        const flags = n.flags & BlockScoped;
        out.write(
          flags === Let
            ? "let "
            : flags === Const
              ? "const "
              : flags === AwaitUsing
                ? "await using "
                : flags === Using
                  ? "using "
                  : "var ",
        );
        this.#list(n.declarations);
        return;
      }
      case K.Block:
        this.#block((node as ts.Block).statements);
        return;
      case K.EmptyStatement:
        out.write(";");
        return;
      case K.VariableStatement: {
        const n = node as ts.VariableStatement;
        this.#modifiers(n.modifiers);
        this.node(n.declarationList);
        out.write(";");
        return;
      }
      case K.ReturnStatement:
      case K.ThrowStatement:
        this.#keywordStatement(
          node.kind === K.ReturnStatement ? "return" : "throw",
          (node as ts.ReturnStatement).expression,
        );
        return;
      case K.IfStatement: {
        const n = node as ts.IfStatement;
        out.write("if (");
        this.node(n.expression);
        out.write(")");
        if (n.elseStatement && endsInOpenIf(n.thenStatement)) {
          // So that the `else` cannot attach to an `if` inside the statement.
          out.write(" ");
          this.#block([n.thenStatement]);
        } else {
          this.#embedded(n.thenStatement);
        }
        if (n.elseStatement) {
          if (n.thenStatement.kind === K.Block || endsInOpenIf(n.thenStatement)) out.write(" ");
          else this.#newLine();
          out.write("else");
          if (n.elseStatement.kind === K.IfStatement) {
            out.write(" ");
            this.statement(n.elseStatement);
          } else {
            this.#embedded(n.elseStatement);
          }
        }
        return;
      }
      case K.ForStatement: {
        const n = node as ts.ForStatement;
        out.write("for (");
        if (n.initializer) this.node(n.initializer);
        out.write(";");
        if (n.condition) {
          out.write(" ");
          this.node(n.condition);
        }
        out.write(";");
        if (n.incrementor) {
          out.write(" ");
          this.node(n.incrementor);
        }
        out.write(")");
        this.#embedded(n.statement);
        return;
      }
      case K.ForInStatement:
      case K.ForOfStatement: {
        const n = node as ts.ForOfStatement;
        out.write(n.awaitModifier ? "for await (" : "for (");
        this.node(n.initializer);
        out.write(node.kind === K.ForInStatement ? " in " : " of ");
        this.node(n.expression);
        out.write(")");
        this.#embedded(n.statement);
        return;
      }
      case K.WhileStatement: {
        const n = node as ts.WhileStatement;
        out.write("while (");
        this.node(n.expression);
        out.write(")");
        this.#embedded(n.statement);
        return;
      }
      case K.DoStatement: {
        const n = node as ts.DoStatement;
        out.write("do");
        this.#embedded(n.statement);
        if (n.statement.kind === K.Block) out.write(" ");
        else this.#newLine();
        out.write("while (");
        this.node(n.expression);
        out.write(");");
        return;
      }
      case K.LabeledStatement: {
        const n = node as ts.LabeledStatement;
        this.node(n.label);
        out.write(": ");
        this.statement(n.statement);
        return;
      }
      case K.SwitchStatement: {
        const n = node as ts.SwitchStatement;
        out.write("switch (");
        this.node(n.expression);
        out.write(") ");
        this.node(n.caseBlock);
        return;
      }
      case K.CaseBlock: {
        const clauses = (node as ts.CaseBlock).clauses;
        out.write("{");
        this.#depth++;
        for (const clause of clauses) {
          this.#newLine();
          this.node(clause);
        }
        this.#depth--;
        this.#newLine();
        out.write("}");
        return;
      }
      case K.TryStatement: {
        const n = node as ts.TryStatement;
        out.write("try ");
        this.node(n.tryBlock);
        if (n.catchClause) {
          out.write(" ");
          this.node(n.catchClause);
        }
        if (n.finallyBlock) {
          out.write(" finally ");
          this.node(n.finallyBlock);
        }
        return;
      }
      case K.CatchClause: {
        const n = node as ts.CatchClause;
        out.write("catch ");
        if (n.variableDeclaration) {
          out.write("(");
          this.node(n.variableDeclaration);
          out.write(") ");
        }
        this.node(n.block);
        return;
      }
      case K.DebuggerStatement:
        out.write("debugger;");
        return;
      default: {
        // A kind the passes do not make: TypeScript's printer.
        this.#tsPrinter ??= ts.createPrinter({
          newLine: ts.NewLineKind.LineFeed,
          removeComments: true,
        });
        out.writeLines(this.#tsPrinter.printNode(ts.EmitHint.Unspecified, node, this.#sourceFile));
      }
    }
  }
}

/**
 * Print `expressions` (made by the passes from the user's nodes), each on its own, with a
 * source map that leads every part with a place in the module (the user's code, and the
 * machine's code the passes gave a position) back to its line and column in `sourceFile`.
 */
export function printExpressions(
  expressions: readonly ts.Expression[],
  sourceFile: ts.SourceFile,
  sourceMap = true,
): PrintedCode[] {
  const printer = new MachinePrinter(sourceFile, sourceMap);
  return expressions.map((expression) => printer.print(expression));
}
