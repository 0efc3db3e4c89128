// Module resolution hooks for peer-alias.mjs: `ioredis` and `ioredis/...`
// resolve to the aliased package (installed at the root as `ioredis5`).
let aliases = {};

export function initialize(data) {
  aliases = data ?? {};
}

export function resolve(specifier, context, nextResolve) {
  for (const [name, alias] of Object.entries(aliases)) {
    if (specifier === name || specifier.startsWith(`${name}/`)) {
      return nextResolve(alias + specifier.slice(name.length), context);
    }
  }
  return nextResolve(specifier, context);
}
