import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;
/** What the two factories have in common: a pool per (external schemas, options), a compiler per route part. */
type Factory<Externals, Options, Route, Compiled> = (externalSchemas: Externals, options?: Options) => (route: Route) => Compiled;

// fastify's own default compilers, resolved from fastify's install as fastify itself loads them.
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
const ajvCompilers = fastifyRequire('@fastify/ajv-compiler') as () => ValidatorFactory;
const serializerSelector = fastifyRequire('@fastify/fast-json-stringify-compiler') as () => SerializerFactory;

/**
 * Memoises a compiler factory per (external schemas, options), and each compiler per schema as
 * JSON: compiling is pure and reads only what JSON shows of a schema (TypeBox's symbol keys are
 * invisible to ajv and fast-json-stringify alike), so a schema compiled for one app serves the
 * next, inline route schemas (a new object per registration) included. fastify builds a fresh
 * pool of compilers per app, which costs a process that builds many apps (the simulation after
 * each crash, the test suite) most of each build in ajv and fast-json-stringify code generation.
 * A process that builds one app is unaffected.
 */
function shared<Externals, Options, Route extends { schema?: unknown }, Compiled>(
  factory: Factory<Externals, Options, Route, Compiled>,
): Factory<Externals, Options, Route, Compiled> {
  const pools = new Map<string, { compile: (route: Route) => Compiled; bySchema: Map<string, Compiled> }>();
  return (externalSchemas, options) => {
    const key = JSON.stringify([externalSchemas, options]);
    let pool = pools.get(key);
    if (!pool) {
      pool = { compile: factory(externalSchemas, options), bySchema: new Map() };
      pools.set(key, pool);
    }
    const { compile, bySchema } = pool;
    return (route: Route): Compiled => {
      const schema = JSON.stringify(route.schema);
      const known = bySchema.get(schema);
      if (known !== undefined) return known;
      const compiled = compile(route);
      bySchema.set(schema, compiled);
      return compiled;
    };
  };
}

/**
 * With compilers of its own, fastify compiles a headers schema as written instead of lowercasing
 * its property names first (Node lowercases the names of the headers it receives), so a schema
 * naming `Idempotency-Key` would never match: refused when the app is built.
 */
function lowercaseHeaders(factory: ValidatorFactory): ValidatorFactory {
  return (externalSchemas, options) => {
    const compile = factory(externalSchemas, options);
    return (route) => {
      const properties = route.httpPart === 'headers' ? (route.schema as { properties?: Record<string, unknown> }).properties : undefined;
      const named = Object.keys(properties ?? {}).find((name) => name !== name.toLowerCase());
      if (named) throw new Error(`${route.method} ${route.url}: name the header ${named} in lowercase in its schema`);
      return compile(route);
    };
  };
}

/**
 * The `schemaController.compilersFactory` every app of this process shares: fastify's default
 * validator (ajv) and serializer (fast-json-stringify) compilers, memoised across apps.
 */
export const sharedCompilers: CompilersFactory = {
  buildValidator: lowercaseHeaders(shared(ajvCompilers())),
  buildSerializer: shared(serializerSelector()),
};
