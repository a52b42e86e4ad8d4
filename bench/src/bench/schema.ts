/**
 * JSON Schema (draft-07) of the results file `edgetta bench --out` writes (format
 * `edgetta.bench/1`). Plain data: validate with any JSON Schema validator (the tests use ajv).
 */

const num = { type: 'number' } as const;
const nonNeg = { type: 'number', minimum: 0 } as const;
const int = { type: 'integer', minimum: 0 } as const;
const str = { type: 'string' } as const;
const pct = { type: 'number', minimum: 0, maximum: 100 } as const;
const optionValues = { type: 'object', additionalProperties: { type: ['number', 'boolean'] } } as const;

const domainTag = {
  type: 'object',
  required: ['corruption', 'severity'],
  properties: { corruption: str, severity: { type: 'integer', minimum: 1, maximum: 5 } },
} as const;

const latency = {
  oneOf: [
    { type: 'null' },
    { type: 'object', required: ['median', 'p95', 'mean'], additionalProperties: false, properties: { median: nonNeg, p95: nonNeg, mean: nonNeg } },
  ],
} as const;

const groupMetrics = {
  n: int,
  errors: int,
  errorPct: pct,
  ece: { type: 'number', minimum: 0, maximum: 1 },
  meanEntropy: nonNeg,
  batches: int,
  msPerBatch: latency,
  peakRssMB: nonNeg,
} as const;
const groupRequired = ['n', 'errors', 'errorPct', 'ece', 'meanEntropy', 'batches', 'msPerBatch', 'peakRssMB'];

const spread = {
  type: 'object',
  required: ['mean', 'std', 'values'],
  additionalProperties: false,
  properties: { mean: num, std: nonNeg, values: { type: 'array', minItems: 1, items: num } },
} as const;

const streamManifest = {
  type: 'object',
  required: ['format', 'protocol', 'params', 'seed', 'batchSize', 'samplesPerDomain', 'totalSamples', 'numBatches', 'reset', 'domains', 'segments', 'preprocess', 'source', 'rng'],
  properties: {
    format: { const: 'edgetta.stream/1' },
    protocol: str,
    params: { type: 'object' },
    seed: { type: 'integer' },
    batchSize: { type: 'integer', minimum: 1 },
    samplesPerDomain: { type: 'integer', minimum: 1 },
    totalSamples: { type: 'integer', minimum: 1 },
    numBatches: { type: 'integer', minimum: 1 },
    reset: { enum: ['each_shift', 'once'] },
    domains: { type: 'array', minItems: 1, items: domainTag },
    segments: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', required: ['domain', 'samples', 'reset'], properties: { domain: { type: ['integer', 'null'] }, samples: int, reset: { type: 'boolean' } } },
    },
    preprocess: { type: 'object' },
    source: {
      type: 'object',
      required: ['kind', 'description', 'count', 'height', 'width', 'numClasses'],
      properties: { kind: str, description: str, count: { type: 'integer', minimum: 1 }, height: int, width: int, numClasses: { type: 'integer', minimum: 2 } },
    },
    rng: { type: 'object', required: ['generator', 'order'], properties: { generator: str, order: str } },
  },
} as const;

export const benchResultsSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://edgetta.dev/schemas/edgetta.bench-1.json',
  title: 'edgetta bench results',
  type: 'object',
  required: ['format', 'manifest', 'summary', 'runs'],
  additionalProperties: false,
  properties: {
    format: { const: 'edgetta.bench/1' },
    manifest: {
      type: 'object',
      additionalProperties: false,
      required: [
        'tool', 'argv', 'startedAt', 'durationSeconds', 'model', 'preprocess', 'data', 'protocol', 'seeds', 'batchSize', 'samplesPerDomain',
        'domains', 'streams', 'metric', 'methods', 'calibration', 'runtime', 'packages', 'git', 'host',
      ],
      properties: {
        tool: { const: 'edgetta bench' },
        argv: { type: 'array', items: str },
        startedAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' },
        durationSeconds: nonNeg,
        model: {
          type: 'object',
          required: ['path', 'sha256', 'bytes', 'input', 'output', 'normLayers'],
          properties: { path: str, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, bytes: int, input: str, output: str, normLayers: { type: 'integer', minimum: 1 } },
        },
        preprocess: {
          type: 'object',
          required: ['layout', 'scale', 'mean', 'std', 'channelOrder'],
          properties: {
            layout: { enum: ['nchw', 'nhwc'] },
            scale: num,
            mean: { type: 'array', items: num, minItems: 3, maxItems: 3 },
            std: { type: 'array', items: num, minItems: 3, maxItems: 3 },
            channelOrder: { enum: ['rgb', 'bgr'] },
          },
        },
        data: {
          type: 'object',
          required: ['kind', 'path', 'sha256', 'count', 'limit', 'corruptionSeed', 'description'],
          properties: {
            kind: { enum: ['cifar10', 'cifar10c'] },
            path: str,
            sha256: {
              oneOf: [{ type: 'null' }, { type: 'string', pattern: '^[0-9a-f]{64}$' }, { type: 'object', additionalProperties: { type: 'string', pattern: '^[0-9a-f]{64}$' } }],
            },
            count: { type: 'integer', minimum: 1 },
            limit: { type: ['integer', 'null'] },
            corruptionSeed: { type: ['integer', 'string', 'null'] },
            description: str,
          },
        },
        protocol: { type: 'object', required: ['arg', 'name', 'params', 'reset'], properties: { arg: str, name: str, params: { type: 'object' }, reset: { enum: ['each_shift', 'once'] } } },
        seeds: { type: 'array', minItems: 1, items: { type: 'integer' } },
        batchSize: { type: 'integer', minimum: 1 },
        samplesPerDomain: { type: 'integer', minimum: 1 },
        domains: { type: 'array', minItems: 1, items: domainTag },
        streams: { type: 'array', minItems: 1, items: streamManifest },
        metric: str,
        methods: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['id', 'name', 'given', 'options', 'calibrated'],
            additionalProperties: false,
            properties: { id: str, name: str, given: optionValues, options: optionValues, calibrated: { type: 'boolean' } },
          },
        },
        calibration: {
          oneOf: [
            { type: 'null' },
            { type: 'object', required: ['path', 'sha256', 'samples'], properties: { path: str, sha256: { type: ['string', 'null'] }, samples: { type: 'integer', minimum: 1 } } },
          ],
        },
        guard: {
          oneOf: [
            { type: 'null' },
            {
              type: 'object',
              additionalProperties: false,
              properties: { entropyFloor: nonNeg, entropyMomentum: nonNeg, resetEvery: int, window: int, maxClassShare: nonNeg, sourceWeight: nonNeg },
            },
          ],
        },
        runtime: {
          type: 'object',
          required: ['requested', 'threads', 'spinning', 'engine'],
          properties: {
            requested: { enum: ['node', 'web'] },
            threads: { type: ['integer', 'null'] },
            spinning: { type: ['boolean', 'null'] },
            engine: { type: 'object', required: ['name', 'executionProviders', 'threads'], properties: { name: str, executionProviders: { type: 'array', items: str }, threads: { type: 'integer' } } },
          },
        },
        packages: { type: 'object', required: ['@edgetta/sdk', '@edgetta/datasets', 'node'], properties: { '@edgetta/sdk': str, '@edgetta/datasets': str, node: str }, additionalProperties: str },
        git: { oneOf: [{ type: 'null' }, { type: 'object', required: ['commit', 'dirty'], properties: { commit: { type: 'string', pattern: '^[0-9a-f]{40}$' }, dirty: { type: 'boolean' } } }] },
        host: {
          type: 'object',
          required: ['node', 'platform', 'arch', 'cpus', 'cpuModel', 'memoryGB'],
          properties: { node: str, platform: str, arch: str, cpus: { type: 'integer', minimum: 1 }, cpuModel: str, memoryGB: nonNeg },
        },
      },
    },
    summary: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['method', 'domains', 'meanErrorPct', 'ece', 'meanEntropy', 'msPerBatch', 'peakRssMB'],
        additionalProperties: false,
        properties: {
          method: str,
          domains: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', required: ['corruption', 'severity', 'errorPct'], additionalProperties: false, properties: { ...domainTag.properties, errorPct: spread } },
          },
          meanErrorPct: spread,
          ece: spread,
          meanEntropy: spread,
          msPerBatch: { oneOf: [{ type: 'null' }, { type: 'object', required: ['median', 'p95'], additionalProperties: false, properties: { median: nonNeg, p95: nonNeg } }] },
          peakRssMB: nonNeg,
        },
      },
    },
    runs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['method', 'seed', 'total', 'domains', 'rolling', 'updates', 'resets', 'seconds', 'setupSeconds'],
        additionalProperties: false,
        properties: {
          method: str,
          seed: { type: 'integer' },
          total: { type: 'object', required: groupRequired, additionalProperties: false, properties: groupMetrics },
          domains: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', required: ['corruption', 'severity', ...groupRequired], additionalProperties: false, properties: { ...domainTag.properties, ...groupMetrics } },
          },
          rolling: {
            type: 'object',
            required: ['window', 'x', 'y'],
            additionalProperties: false,
            properties: { window: { type: 'integer', minimum: 1 }, x: { type: 'array', items: int }, y: { type: 'array', items: pct } },
          },
          updates: { type: 'object', required: ['applied', 'skipped'], additionalProperties: false, properties: { applied: int, skipped: int } },
          resets: int,
          guardResets: int,
          seconds: nonNeg,
          setupSeconds: nonNeg,
        },
      },
    },
  },
} as const;
