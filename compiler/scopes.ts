import ts from "typescript";
import type { WorkflowBodyNode } from "./discover.js";
import { isReference, runtimeParameters } from "./syntax.js";

// TypeScript's CommonJS entry exposes each export through a getter on an object of some
// 2,000 properties: `ts.isIdentifier(…)` or `ts.SyntaxKind.X` is a getter call each time.
// The walks ask such questions of every node, so they read them once, here.
const {
  NodeFlags,
  SyntaxKind,
  forEachChild,
  isArrowFunction,
  isBindingElement,
  isBlock,
  isCaseBlock,
  isCatchClause,
  isClassDeclaration,
  isClassExpression,
  isClassLike,
  isForInStatement,
  isForOfStatement,
  isForStatement,
  isFunctionDeclaration,
  isFunctionExpression,
  isFunctionLike,
  isIdentifier,
  isTypeNode,
  isVariableDeclaration,
  isVariableDeclarationList,
} = ts;

/** A declared name inside a workflow body (its own functions included). */
export interface Binding {
  readonly name: string;
  readonly kind: "var" | "let" | "const" | "class" | "function" | "param" | "catch";
  /** The identifier that declares it. */
  readonly id: ts.Identifier;
  /** The scope it lives in. */
  readonly scope: Scope;
  /**
   * A `var` that a function declaration of the same function declares too (`var f = 1;
   * function f() {}`): one variable, which the function initializes on entry and the
   * `var`'s assignments overwrite.
   */
  readonly alsoFunction?: boolean;
}

/** A lexical scope: a function (holds `var`s and parameters) or a block. */
export interface Scope {
  readonly node: ts.Node;
  readonly parent: Scope | undefined;
  readonly isFunction: boolean;
  readonly names: Map<string, Binding>;
}

/**
 * A node validation looks at (compiler/validate.ts), where the walk met it: a reference, or
 * `this`, `super`, `new.target`, `yield` or `with`.
 */
export interface ContextualNode {
  readonly node: ts.Node;
  /** Inside a function or class nested in the body. */
  readonly nested: boolean;
  /** Inside a non-arrow function or a class, which has its own `this`, `arguments` and `super`. */
  readonly ownThis: boolean;
}

/** Which binding each identifier of a body refers to, and what else one walk of it found. */
export interface ScopeInfo {
  readonly bindings: Binding[];
  /** Every reference in the body, with the binding it resolves to (`undefined`: outside the body). */
  readonly references: Map<ts.Identifier, Binding | undefined>;
  /** The binding each declaring identifier declares. */
  readonly declarations: Map<ts.Identifier, Binding>;
  /** Names referenced in the body that resolve outside it (imports, module variables, globals). */
  readonly outerNames: Set<string>;
  /** Bindings of the body referenced from inside a function or class nested in it. */
  readonly capturedByFunctions: Set<Binding>;
  /** The text of every identifier of the body node, type annotations and decorators included. */
  readonly identifierNames: Set<string>;
  /**
   * For validation, in source order: the references of the parameters after the first and of
   * the statements, and their `this`, `super`, `new.target`, `yield` and `with` nodes.
   */
  readonly contextual: ContextualNode[];
  /**
   * The declaring identifiers of the body's own scope, by name, in source order: parameters
   * after the first, variables, functions and classes, catch bindings — not those inside
   * nested functions or classes (compiler/names.ts qualifies the names declared twice).
   */
  readonly ownDeclarations: Map<string, ts.Identifier[]>;
  /**
   * Identifiers of the statements (type annotations included) named like a plain parameter
   * after the first (not destructured, not rest, without a default), in source order.
   */
  readonly parameterMentions: ts.Identifier[];
  /** The `break`, `continue` and `return` statements of the statements, nested functions' too. */
  readonly jumps: ts.Statement[];
  /**
   * The `enum` and `namespace` declarations of the statements, not those inside nested
   * functions or classes (validation refuses those a checkpoint separates from their uses).
   */
  readonly typeScriptValues: (ts.EnumDeclaration | ts.ModuleDeclaration)[];
  /**
   * Every identifier of the parameters and statements that is a reference (`isReference`),
   * type annotations aside, in source order (so sorted by position).
   */
  readonly referenceIds: ts.Identifier[];
}

function createsBlockScope(node: ts.Node): boolean {
  return (
    isBlock(node) ||
    isCaseBlock(node) ||
    isForStatement(node) ||
    isForInStatement(node) ||
    isForOfStatement(node) ||
    isCatchClause(node) ||
    isClassLike(node)
  );
}

/** A reference met by the walk, resolved once every declaration is known. */
interface PendingReference {
  readonly id: ts.Identifier;
  readonly scope: Scope;
  readonly nested: boolean;
}

/**
 * Resolve every name in a workflow body to its declaration — the scope analysis that the
 * compiler needs to give block-level variables unique frame slots. Strict-mode rules:
 * `var` belongs to the nearest function, `let`/`const`/`class` and function declarations to
 * the nearest block.
 *
 * One walk of the body does it, and collects on the way what validation, slot naming and
 * frame keys ask about the body (see {@link ScopeInfo}), so no pass walks the body again for
 * those. References are recorded as met and resolved after the walk, when every hoisted
 * declaration of their scopes is known.
 */
export function resolveScopes(body: WorkflowBodyNode): ScopeInfo {
  const bindings: Binding[] = [];
  const declarations = new Map<ts.Identifier, Binding>();
  const identifierNames = new Set<string>();
  const contextual: ContextualNode[] = [];
  const ownDeclarations = new Map<string, ts.Identifier[]>();
  const parameterMentions: ts.Identifier[] = [];
  const jumps: ts.Statement[] = [];
  const typeScriptValues: (ts.EnumDeclaration | ts.ModuleDeclaration)[] = [];
  const pending: PendingReference[] = [];

  /** `var`/function pairs of one name in one function: merged into one binding after the walk. */
  const varFunctions = new Map<Binding, { fn: ts.Identifier; assigned: boolean }>();

  const declare = (scope: Scope, id: ts.Identifier, kind: Binding["kind"]): void => {
    let target = scope;
    /** A catch clause's own parameter of the name, which a `var` inside the catch writes. */
    let catchParameter: Binding | undefined;
    if (kind === "var") {
      while (!target.isFunction && target.parent) {
        const named = target.names.get(id.text);
        if (named?.kind === "catch" && isCatchClause(target.node)) catchParameter ??= named;
        target = target.parent;
      }
    }
    const existing = target.names.get(id.text);
    // A `var` declares no second variable where its function already has one of the name:
    // an earlier `var`, a parameter (`var options = options || {}` reads the argument) — not
    // the context parameter, whose redeclaration validation refuses — or a function
    // declaration (`var f = 1; function f() {}`: one variable).
    const merges =
      existing !== undefined &&
      (existing.kind === kind ||
        (kind === "var" && existing.kind === "param" && existing.id !== ctxId) ||
        (kind === "var" && existing.kind === "function") ||
        (kind === "function" && existing.kind === "var"));
    if (existing && merges && (kind === "var" || kind === "function")) {
      declarations.set(id, existing);
      if (
        (existing.kind === "function" && kind === "var") ||
        (existing.kind === "var" && kind === "function") ||
        varFunctions.has(existing)
      ) {
        const pair = varFunctions.get(existing) ?? {
          fn: kind === "function" ? id : existing.id,
          assigned: existing.kind === "var" && assignsVar(existing.id),
        };
        if (kind === "var" && assignsVar(id)) pair.assigned = true;
        varFunctions.set(existing, pair);
      }
      // Annex B.3.5: `catch (e) { var e = 5 }` declares a variable of the function, but
      // its assignment writes the catch parameter, as a reference there would.
      if (catchParameter) declarations.set(id, catchParameter);
      return;
    }
    const binding: Binding = { name: id.text, kind, id, scope: target };
    target.names.set(id.text, binding);
    bindings.push(binding);
    declarations.set(id, binding);
    if (catchParameter) declarations.set(id, catchParameter);
  };

  const declarePattern = (scope: Scope, name: ts.BindingName, kind: Binding["kind"]): void => {
    if (isIdentifier(name)) {
      declare(scope, name, kind);
      return;
    }
    for (const element of name.elements) {
      if (isBindingElement(element)) declarePattern(scope, element.name, kind);
    }
  };

  const addOwnDeclaration = (id: ts.Identifier): void => {
    const list = ownDeclarations.get(id.text);
    if (list) list.push(id);
    else ownDeclarations.set(id.text, [id]);
  };
  const addOwnPattern = (name: ts.BindingName): void => {
    if (isIdentifier(name)) addOwnDeclaration(name);
    else
      for (const element of name.elements) {
        if (isBindingElement(element)) addOwnPattern(element.name);
      }
  };

  // A TypeScript `this` parameter is a type: it binds nothing and is not `ctx` (runtimeParameters).
  const parameters = runtimeParameters(body);
  const ctxId = parameters[0]?.name;
  const plainParameters = new Set<string>();
  for (const parameter of parameters.slice(1)) {
    addOwnPattern(parameter.name);
    if (isIdentifier(parameter.name) && !parameter.initializer && !parameter.dotDotDotToken) {
      plainParameters.add(parameter.name.text);
    }
  }

  // The walk's state, saved and restored around each node's children, so that one callback
  // serves every node (no closure per node).
  let scope: Scope = { node: body, parent: undefined, isFunction: true, names: new Map() };
  const root = scope;
  /** Inside a function or class nested in the body. */
  let nested = false;
  /** Inside a non-arrow function or class. */
  let ownThis = false;
  /** Declarations count (not inside an interface or type alias, which declare nothing). */
  let declaring = true;
  /** Validation looks here (everywhere but the context parameter). */
  let validating = true;
  /** In the statements, not the parameters. */
  let inStatements = false;

  /** Type annotations: only their identifiers' names matter (and parameters' mentions). */
  const visitType = (node: ts.Node): undefined => {
    if (node.kind === SyntaxKind.Identifier) {
      const id = node as ts.Identifier;
      identifierNames.add(id.text);
      if (inStatements && plainParameters.has(id.text)) parameterMentions.push(id);
      return undefined;
    }
    forEachChild(node, visitType);
    return undefined;
  };

  /** A computed method key already visited, in the scope around the method (see below). */
  let visitedKey: ts.Node | undefined;

  const visit = (node: ts.Node): undefined => {
    if (node === visitedKey) return undefined;
    const kind = node.kind;
    // A token (an identifier, a literal, a keyword, an operator) has no children.
    if (kind <= SyntaxKind.LastToken) {
      if (kind === SyntaxKind.Identifier) {
        const id = node as ts.Identifier;
        identifierNames.add(id.text);
        if (inStatements && plainParameters.has(id.text)) parameterMentions.push(id);
        if (isReference(id)) {
          pending.push({ id, scope, nested });
          if (validating) contextual.push({ node, nested, ownThis });
        }
      } else if (kind === SyntaxKind.ThisKeyword || kind === SyntaxKind.SuperKeyword) {
        if (validating) contextual.push({ node, nested, ownThis });
      }
      return undefined;
    }
    if (isTypeNode(node)) return visitType(node);
    switch (kind) {
      case SyntaxKind.WithStatement:
      case SyntaxKind.YieldExpression:
      case SyntaxKind.MetaProperty:
        if (validating) contextual.push({ node, nested, ownThis });
        break;
      case SyntaxKind.BreakStatement:
      case SyntaxKind.ContinueStatement:
      case SyntaxKind.ReturnStatement:
        jumps.push(node as ts.Statement);
        break;
      case SyntaxKind.EnumDeclaration:
      case SyntaxKind.ModuleDeclaration:
        if (!nested) typeScriptValues.push(node as ts.EnumDeclaration | ts.ModuleDeclaration);
        break;
    }
    const functionLike = isFunctionLike(node);
    const classLike = isClassLike(node);
    if (inStatements && !nested) {
      if (
        (kind === SyntaxKind.FunctionDeclaration || kind === SyntaxKind.ClassDeclaration) &&
        (node as ts.FunctionDeclaration | ts.ClassDeclaration).name
      ) {
        addOwnDeclaration((node as ts.FunctionDeclaration | ts.ClassDeclaration).name!);
      } else if (kind === SyntaxKind.VariableDeclaration) {
        addOwnPattern((node as ts.VariableDeclaration).name);
      }
    }

    const outer = scope;
    const wasDeclaring = declaring;
    let inner = scope;
    if (!declaring) {
      // Inside an interface or type alias: nothing is declared, no scope opens.
    } else if (
      kind === SyntaxKind.InterfaceDeclaration ||
      kind === SyntaxKind.TypeAliasDeclaration
    ) {
      declaring = false;
    } else {
      if (functionLike) {
        if (isFunctionDeclaration(node) && node.name) {
          // A function declaration at the top of a function's body is a variable of the
          // function, as a `var` is (one in a nested block belongs to the block) — unless a
          // parameter has its name, whose binding it then hides.
          const top =
            scope.parent?.isFunction === true &&
            (scope.parent.node as ts.FunctionLikeDeclaration).body === scope.node &&
            scope.parent.names.get(node.name.text)?.kind !== "param";
          declare(top ? scope.parent! : scope, node.name, "function");
        }
        inner = { node, parent: scope, isFunction: true, names: new Map() };
        if ((isFunctionExpression(node) || isClassExpression(node)) && node.name) {
          declare(inner, node.name, "function");
        }
        for (const parameter of runtimeParameters(node)) {
          declarePattern(inner, parameter.name, "param");
        }
      } else if (createsBlockScope(node)) {
        if (isClassDeclaration(node) && node.name) declare(scope, node.name, "class");
        inner = { node, parent: scope, isFunction: false, names: new Map() };
        if (isClassExpression(node) && node.name) declare(inner, node.name, "class");
        if (isCatchClause(node) && node.variableDeclaration) {
          declarePattern(inner, node.variableDeclaration.name, "catch");
        }
      }
      if (isVariableDeclarationList(node)) {
        const declared =
          node.flags & NodeFlags.Const ? "const" : node.flags & NodeFlags.Let ? "let" : "var";
        for (const declaration of node.declarations) {
          declarePattern(scope, declaration.name, declared);
        }
      }
    }

    const name = functionLike ? (node as ts.SignatureDeclaration).name : undefined;
    if (name !== undefined && name.kind === SyntaxKind.ComputedPropertyName) {
      // A method's computed key runs where the method is defined, not inside it: in the
      // scope around it, and (in an object literal) in the workflow body itself.
      scope = outer;
      visit(name);
      visitedKey = name;
    }
    const wasNested = nested;
    const hadOwnThis = ownThis;
    scope = inner;
    if (functionLike || classLike) {
      nested = true;
      if (!isArrowFunction(node)) ownThis = true;
    }
    forEachChild(node, visit);
    scope = outer;
    nested = wasNested;
    ownThis = hadOwnThis;
    declaring = wasDeclaring;
    return undefined;
  };

  // The body's own name, decorators, type parameters, `this` parameter and return type: names
  // only.
  forEachChild(body, (child) => {
    const parameter =
      child.kind === SyntaxKind.Parameter && parameters.includes(child as ts.ParameterDeclaration);
    if (!parameter && child !== body.body) visitType(child);
  });
  for (const parameter of parameters) declarePattern(root, parameter.name, "param");
  for (const [i, parameter] of parameters.entries()) {
    validating = i > 0;
    visit(parameter);
  }
  validating = true;
  inStatements = true;
  visit(body.body!);

  // A `var` and a function declaration of one name are one variable: a `var` as soon as a
  // `var` of it assigns a value, else the function (`var f;` changes nothing).
  for (const [binding, { fn, assigned }] of varFunctions) {
    const merged = binding as { -readonly [K in keyof Binding]: Binding[K] };
    if (assigned) {
      // Keyed by the function's name where the function is at the top of the body.
      merged.kind = "var";
      merged.alsoFunction = true;
      merged.id = fn;
    } else {
      merged.kind = "function";
      merged.id = fn;
    }
  }

  // References, now that every declaration is known; and which bindings nested functions and
  // classes capture.
  const references = new Map<ts.Identifier, Binding | undefined>();
  const outerNames = new Set<string>();
  const capturedByFunctions = new Set<Binding>();
  for (const { id, scope, nested } of pending) {
    if (declarations.has(id)) continue;
    let found: Binding | undefined;
    for (let s: Scope | undefined = scope; s && !found; s = s.parent) found = s.names.get(id.text);
    references.set(id, found);
    if (!found) outerNames.add(id.text);
    else if (nested) capturedByFunctions.add(found);
  }
  return {
    bindings,
    references,
    declarations,
    outerNames,
    capturedByFunctions,
    identifierNames,
    contextual,
    ownDeclarations,
    parameterMentions,
    jumps,
    typeScriptValues,
    referenceIds: pending.map((reference) => reference.id),
  };
}

/**
 * Whether a `var`'s declaring identifier assigns it: it has an initializer, is part of a
 * destructuring pattern, or is a `for … in/of` head.
 */
function assignsVar(id: ts.Identifier): boolean {
  const declaration = id.parent;
  if (isBindingElement(declaration)) return true;
  if (!isVariableDeclaration(declaration)) return false;
  if (declaration.name !== id || declaration.initializer) return true;
  const head = declaration.parent.parent;
  return (
    (isForInStatement(head) || isForOfStatement(head)) && head.initializer === declaration.parent
  );
}
