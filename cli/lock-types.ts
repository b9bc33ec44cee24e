/**
 * The types half of `ratchet lock`: the TypeScript type of every variable stored at every
 * checkpoint, read with the program's type checker, and the declaration file that types each
 * workflow's `migrate` option with them (`LockedWorkflows` in runtime/versioning.ts).
 * @module
 */
import { dirname, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { createRatchetTransformer } from "../compiler/index.js";

/** By workflow name, by checkpoint id: each stored variable's type, as TypeScript text. */
export type FrameTypes = Map<string, Record<string, Record<string, string>>>;

/** Options for a project without a tsconfig.json. */
const defaults: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  allowJs: true,
  skipLibCheck: true,
};

/**
 * The types of the variables live at each checkpoint of the workflows in `files`, written as
 * a declaration file in `outDir` can name them: primitives and literals, the standard
 * library's types (`Date`, `Map<K, V>`…), arrays, tuples, unions, object literals of those,
 * and exported types of the project (`import("./src/order.js").Order`). A variable whose type
 * cannot be named there (a type local to a function or not exported, a function) is
 * `unknown`. The compiler options are the nearest tsconfig.json's above `outDir`.
 */
export function frameTypes(files: readonly string[], outDir: string): FrameTypes {
  const options = compilerOptions(outDir);
  const program = ts.createProgram(
    files.map((file) => resolve(file)),
    options,
  );
  const checker = program.getTypeChecker();
  const namer = new TypeNamer(checker, program, resolve(outDir));
  const out: FrameTypes = new Map();
  for (const file of files) {
    const sourceFile = program.getSourceFile(resolve(file));
    if (!sourceFile) continue;
    const result = ts.transform(
      sourceFile,
      [
        createRatchetTransformer({
          fileName: () => relative(process.cwd(), file) || file,
          onLiveness: (workflow, checkpoints) => {
            const byCheckpoint: Record<string, Record<string, string>> = {};
            for (const { checkpoint, live } of checkpoints) {
              const types: Record<string, string> = {};
              for (const variable of live) {
                const node = variable.node && ts.getParseTreeNode(variable.node);
                types[variable.name] = node
                  ? (namer.name(checker.getTypeAtLocation(node)) ?? "unknown")
                  : "unknown";
              }
              byCheckpoint[checkpoint.id] = types;
            }
            out.set(workflow.name, byCheckpoint);
          },
        }),
      ],
      options,
    );
    result.dispose();
  }
  return out;
}

function compilerOptions(from: string): ts.CompilerOptions {
  const config = ts.findConfigFile(resolve(from), ts.sys.fileExists);
  if (!config) return defaults;
  const parsed = ts.getParsedCommandLineOfConfigFile(
    config,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    },
  );
  return parsed ? { ...parsed.options, noEmit: true } : defaults;
}

/** Writes types as text that resolves in a declaration file in `outDir`. */
class TypeNamer {
  constructor(
    readonly checker: ts.TypeChecker,
    readonly program: ts.Program,
    readonly outDir: string,
  ) {}

  /** The type as text, or `undefined` when it cannot be named from the declaration file. */
  name(type: ts.Type, depth = 0): string | undefined {
    if (depth > 6) return undefined;
    const { checker } = this;
    const flags = type.flags;
    if (type.aliasSymbol && !(flags & ts.TypeFlags.Boolean)) {
      const named = this.symbolName(type.aliasSymbol, type.aliasTypeArguments ?? [], depth);
      if (named) return named;
    }
    if (
      flags &
      (ts.TypeFlags.Any |
        ts.TypeFlags.Unknown |
        ts.TypeFlags.String |
        ts.TypeFlags.Number |
        ts.TypeFlags.Boolean |
        ts.TypeFlags.BigInt |
        ts.TypeFlags.Undefined |
        ts.TypeFlags.Null |
        ts.TypeFlags.Void |
        ts.TypeFlags.Never |
        ts.TypeFlags.StringLiteral |
        ts.TypeFlags.NumberLiteral |
        ts.TypeFlags.BigIntLiteral |
        ts.TypeFlags.BooleanLiteral)
    ) {
      return checker.typeToString(type);
    }
    if (flags & ts.TypeFlags.EnumLiteral || flags & ts.TypeFlags.Enum) {
      const symbol = type.getSymbol();
      return symbol ? this.symbolName(symbol, [], depth) : undefined;
    }
    if (type.isUnion() || type.isIntersection()) {
      const parts = type.types.map((t) => this.operand(t, depth));
      if (parts.some((p) => p === undefined)) return undefined;
      return parts.join(type.isUnion() ? " | " : " & ");
    }
    if (!(flags & ts.TypeFlags.Object)) return undefined;
    const object = type as ts.ObjectType;
    if (checker.isTupleType(type)) {
      const target = (type as ts.TypeReference).target as ts.TupleType;
      const args = checker.getTypeArguments(type as ts.TypeReference);
      const parts = args.map((arg, i) => {
        const flag = target.elementFlags[i] ?? ts.ElementFlags.Required;
        const text =
          flag & (ts.ElementFlags.Rest | ts.ElementFlags.Optional)
            ? this.operand(arg, depth)
            : this.name(arg, depth + 1);
        if (text === undefined) return undefined;
        if (flag & ts.ElementFlags.Rest) return `...${text}[]`;
        return flag & ts.ElementFlags.Optional ? `${text}?` : text;
      });
      if (parts.some((p) => p === undefined)) return undefined;
      return `${target.readonly ? "readonly " : ""}[${parts.join(", ")}]`;
    }
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      const text = element && this.operand(element, depth);
      if (text === undefined) return undefined;
      const readonly = type.getSymbol()?.name === "ReadonlyArray";
      return `${readonly ? "readonly " : ""}${text}[]`;
    }
    const symbol = type.getSymbol();
    if (
      symbol &&
      (object.objectFlags & ts.ObjectFlags.Reference ||
        object.objectFlags & ts.ObjectFlags.Interface ||
        object.objectFlags & ts.ObjectFlags.Class ||
        symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))
    ) {
      const args =
        object.objectFlags & ts.ObjectFlags.Reference
          ? checker.getTypeArguments(type as ts.TypeReference)
          : [];
      return this.symbolName(symbol, args, depth);
    }
    if (object.objectFlags & ts.ObjectFlags.Anonymous) return this.literal(type, depth);
    return undefined;
  }

  /** {@link name}, in parentheses when it is a union or an intersection. */
  operand(type: ts.Type, depth: number): string | undefined {
    const text = this.name(type, depth + 1);
    const compound =
      (type.isUnion() || type.isIntersection()) && !(type.flags & ts.TypeFlags.Boolean);
    return text !== undefined && compound ? `(${text})` : text;
  }

  /** An object literal type, member by member; none for functions and classes' statics. */
  literal(type: ts.Type, depth: number): string | undefined {
    const { checker } = this;
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      return undefined;
    }
    const members: string[] = [];
    for (const property of checker.getPropertiesOfType(type)) {
      const declaration = property.valueDeclaration ?? property.declarations?.[0];
      const propertyType = checker.getTypeOfSymbol(property);
      const text = this.name(
        property.flags & ts.SymbolFlags.Optional
          ? checker.getNonNullableType(propertyType)
          : propertyType,
        depth + 1,
      );
      if (text === undefined) return undefined;
      const readonly =
        declaration && ts.getCombinedModifierFlags(declaration) & ts.ModifierFlags.Readonly;
      const key = /^[A-Za-z_$][\w$]*$/.test(property.name)
        ? property.name
        : JSON.stringify(property.name);
      const optional = property.flags & ts.SymbolFlags.Optional ? "?" : "";
      members.push(`${readonly ? "readonly " : ""}${key}${optional}: ${text}`);
    }
    const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
    if (index) {
      const text = this.name(index.type, depth + 1);
      if (text === undefined) return undefined;
      members.push(`[key: string]: ${text}`);
    }
    return members.length === 0 ? "{}" : `{ ${members.join("; ")} }`;
  }

  /**
   * A declared type by its name: as it is for the standard library's, as an import type for
   * one its module exports; `undefined` for anything else.
   */
  symbolName(symbol: ts.Symbol, args: readonly ts.Type[], depth: number): string | undefined {
    const declaration = symbol.declarations?.[0];
    if (!declaration) return undefined;
    const sourceFile = declaration.getSourceFile();
    const argTexts = args.map((arg) => this.name(arg, depth + 1));
    if (argTexts.some((a) => a === undefined)) return undefined;
    const typeArgs = argTexts.length > 0 ? `<${argTexts.join(", ")}>` : "";
    if (this.program.isSourceFileDefaultLibrary(sourceFile)) return `${symbol.name}${typeArgs}`;
    if (!ts.isExternalModule(sourceFile)) return undefined;
    const moduleSymbol = this.checker.getSymbolAtLocation(sourceFile);
    if (!moduleSymbol) return undefined;
    const exported = this.checker
      .getExportsOfModule(moduleSymbol)
      .find((e) => e === symbol || this.resolved(e) === symbol);
    if (!exported) return undefined;
    return `import(${JSON.stringify(this.specifier(sourceFile.fileName))}).${exported.name}${typeArgs}`;
  }

  resolved(symbol: ts.Symbol): ts.Symbol {
    return symbol.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(symbol) : symbol;
  }

  /** The module specifier of a source file from the declaration file: relative, with `.js`. */
  specifier(fileName: string): string {
    let path = relative(this.outDir, fileName);
    if (sep !== "/") path = path.split(sep).join("/");
    path = path
      .replace(/\.d\.([cm]?)ts$/, ".$1js")
      .replace(/\.([cm]?)tsx?$/, ".$1js")
      .replace(/\.jsx$/, ".js");
    return path.startsWith(".") ? path : `./${path}`;
  }
}

/** Where the declaration file for the lock at `lockPath` goes: beside it, `<name>.d.ts`. */
export function declarationPath(lockPath: string): string {
  const name = lockPath.replace(/\.json$/, "");
  return `${name}.d.ts`;
}

/**
 * The declaration file that types `migrate` (see `LockedWorkflows`): per workflow, the
 * variables the locked code stored at each checkpoint, and those the current code needs.
 */
export function declarationFile(
  workflows: ReadonlyMap<
    string,
    {
      readonly stored: Readonly<Record<string, Readonly<Record<string, string>>>>;
      readonly current: Readonly<Record<string, Readonly<Record<string, string>>>>;
    }
  >,
  lockName: string,
): string {
  const frame = (types: Readonly<Record<string, string>>, indent: string) => {
    const entries = Object.entries(types);
    if (entries.length === 0) return "{}";
    return `{\n${entries
      .map(([key, type]) => `${indent}  ${JSON.stringify(key)}: ${type};`)
      .join("\n")}\n${indent}}`;
  };
  const frames = (
    byCheckpoint: Readonly<Record<string, Readonly<Record<string, string>>>>,
    indent: string,
  ) => {
    const entries = Object.entries(byCheckpoint);
    if (entries.length === 0) return "{}";
    return `{\n${entries
      .map(([id, types]) => `${indent}  ${JSON.stringify(id)}: ${frame(types, `${indent}  `)};`)
      .join("\n")}\n${indent}}`;
  };
  const body = [...workflows]
    .map(
      ([name, { stored, current }]) =>
        `    ${JSON.stringify(name)}: {\n      stored: ${frames(stored, "      ")};\n      current: ${frames(current, "      ")};\n    };`,
    )
    .join("\n");
  return `// Written by \`ratchet lock\` with ${lockName}; commit both. It types each workflow's
// \`migrate\` option (by the \`name\` in its options): \`vars\` as the locked code stored them
// at each checkpoint, the result as the current code needs it. Do not edit.
export {};

declare module "ratchetjs" {
  interface LockedWorkflows {
${body}
  }
}
`;
}

/** The directory a lock file is in. */
export function lockDirectory(lockPath: string): string {
  return dirname(resolve(lockPath));
}
