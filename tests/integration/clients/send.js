#!/usr/bin/env node
// Sends OTLP traces, metrics or logs with the official OpenTelemetry JS SDK and exporters, and
// writes what it sent to a JSON file so that a verifier can compare it with what reached Kafka.
//
// The data is made by the SDK itself (real ReadableSpans, collected ResourceMetrics, emitted
// SdkLogRecords, captured by in-memory exporters/readers) and then handed to the OTLP exporter
// through exporter.export(items, callback), so the bytes on the wire are the exporter's own.
//
// Exit status: 0 when every export() reported SUCCESS, 1 when any failed, 2 on a usage error.
// The JSON file is written in every case (with "ok" and per-export results).
//
// JSON shape (attribute values and log bodies are tagged: {"string": s}, {"int": n},
// {"double": x}, {"bool": b}, {"bytes": hex}, {"array": [...]}, {"kvlist": {k: v}}):
//   traces:  {signal, service, count, exports, ok, results,
//             traces: [{trace_id, spans: [{span_id, parent_span_id, name, kind, status,
//                                          attributes}]}]}
//   metrics: {signal, service, count, exports, ok, results,
//             metrics: [{name, type, points: [{attributes, value}]}]}
//             value: a number for sums and gauges, {count, sum} for histograms
//   logs:    {signal, service, count, exports, ok, results,
//             logs: [{body, severity_number, attributes, trace_id, span_id}]}
// Ids are lowercase hex; parent_span_id, trace_id and span_id are "" when absent.
'use strict';

const fs = require('fs');
const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');
const {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');
const { MeterProvider, MetricReader, DataPointType } = require('@opentelemetry/sdk-metrics');
const {
  LoggerProvider,
  InMemoryLogRecordExporter,
  SimpleLogRecordProcessor,
} = require('@opentelemetry/sdk-logs');
const { SeverityNumber } = require('@opentelemetry/api-logs');

const USAGE = `usage: node send.js --url URL --signal traces|metrics|logs
         [--protocol http/protobuf|http/json|grpc] [--gzip] --count N [--traces T]
         --out FILE.json [--service NAME] [--seed S] [--batch K] [--concurrency C]
         [--timeout-ms MS]

  --url URL        base endpoint, e.g. http://127.0.0.1:4318; for http protocols
                   /v1/<signal> is appended unless URL already has a path
  --count N        spans (traces), data points (metrics) or log records (logs) in total
  --traces T       distinct traces the N spans are spread over (default 1)
  --batch K        items per export() call: traces per call for traces, data points for
                   metrics, records for logs (default: everything in one call)
  --concurrency C  export() calls in flight at once (default 1)
  --seed S         seed for ids and values (default: random; the seed used is in the output)
  --timeout-ms MS  exporter timeout per export (default 10000)`;

function usage(msg) {
  if (msg) {
    process.stderr.write(`send.js: ${msg}\n`);
  }
  process.stderr.write(USAGE + '\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    url: null,
    signal: null,
    protocol: 'http/protobuf',
    gzip: false,
    count: null,
    traces: 1,
    out: null,
    service: 'linerate-send',
    seed: null,
    batch: 0,
    concurrency: 1,
    timeoutMs: 10000,
  };
  const intOpt = (name, v, min) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) {
      usage(`${name} needs an integer >= ${min}`);
    }
    return Number(v);
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--url': opts.url = v; i++; break;
      case '--signal': opts.signal = v; i++; break;
      case '--protocol': opts.protocol = v; i++; break;
      case '--gzip': opts.gzip = true; break;
      case '--count': opts.count = intOpt(a, v, 1); i++; break;
      case '--traces': opts.traces = intOpt(a, v, 1); i++; break;
      case '--out': opts.out = v; i++; break;
      case '--service': opts.service = v; i++; break;
      case '--seed': opts.seed = intOpt(a, v, 0); i++; break;
      case '--batch': opts.batch = intOpt(a, v, 1); i++; break;
      case '--concurrency': opts.concurrency = intOpt(a, v, 1); i++; break;
      case '--timeout-ms': opts.timeoutMs = intOpt(a, v, 1); i++; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
    if (v === undefined && a !== '--gzip' && a.startsWith('--')) {
      usage(`${a} needs a value`);
    }
  }
  if (!opts.url) usage('--url is required');
  if (!['traces', 'metrics', 'logs'].includes(opts.signal)) usage('bad --signal');
  if (!['http/protobuf', 'http/json', 'grpc'].includes(opts.protocol)) usage('bad --protocol');
  if (opts.count === null) usage('--count is required');
  if (!opts.out) usage('--out is required');
  if (opts.signal === 'traces' && opts.traces > opts.count) {
    usage('--traces must not exceed --count (every trace needs a span)');
  }
  if (opts.seed === null) {
    opts.seed = Math.floor(Math.random() * 0xffffffff);
  }
  return opts;
}

// mulberry32: small, seedable, good enough for test data.
function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    hex: (nbytes) => {
      let s = '';
      for (let i = 0; i < nbytes; i++) {
        s += Math.floor(next() * 256).toString(16).padStart(2, '0');
      }
      return s;
    },
  };
}

// Seeded ids; never all zero (an all-zero id is invalid and the SDK would drop it).
function makeIdGenerator(rng) {
  const nonZero = (nbytes) => {
    for (;;) {
      const h = rng.hex(nbytes);
      if (!/^0+$/.test(h)) return h;
    }
  };
  return {
    generateTraceId: () => nonZero(16),
    generateSpanId: () => nonZero(8),
  };
}

// Mirrors otlp-transformer's toAnyValue, so the expectation is the value the exporter encodes.
function tagValue(v) {
  if (typeof v === 'string') return { string: v };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: v } : { double: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return { array: v.map(tagValue) };
  if (v !== null && typeof v === 'object') {
    const kv = {};
    for (const k of Object.keys(v)) kv[k] = tagValue(v[k]);
    return { kvlist: kv };
  }
  return {};
}

function tagAttributes(attrs) {
  const out = {};
  for (const k of Object.keys(attrs || {})) {
    if (attrs[k] !== undefined) out[k] = tagValue(attrs[k]);
  }
  return out;
}

function exportUrl(opts) {
  if (opts.protocol === 'grpc') return opts.url;
  const u = new URL(opts.url);
  if (u.pathname !== '' && u.pathname !== '/') return opts.url;
  return opts.url.replace(/\/$/, '') + `/v1/${opts.signal}`;
}

const EXPORTER_PACKAGES = {
  traces: ['OTLPTraceExporter', 'trace'],
  metrics: ['OTLPMetricExporter', 'metrics'],
  logs: ['OTLPLogExporter', 'logs'],
};
const PROTOCOL_SUFFIX = { 'http/protobuf': 'proto', 'http/json': 'http', grpc: 'grpc' };

function makeExporter(opts) {
  const [cls, pkg] = EXPORTER_PACKAGES[opts.signal];
  const mod = require(`@opentelemetry/exporter-${pkg}-otlp-${PROTOCOL_SUFFIX[opts.protocol]}`);
  const config = {
    url: exportUrl(opts),
    compression: opts.gzip ? 'gzip' : 'none',
    timeoutMillis: opts.timeoutMs,
    // We bound the calls in flight ourselves; the exporter's own limit counts a call until
    // after its callback has run, so it needs headroom or back-to-back calls fail.
    concurrencyLimit: opts.concurrency + 30,
  };
  return new mod[cls](config);
}

const SPAN_KINDS = [
  [api.SpanKind.INTERNAL, 'SPAN_KIND_INTERNAL'],
  [api.SpanKind.SERVER, 'SPAN_KIND_SERVER'],
  [api.SpanKind.CLIENT, 'SPAN_KIND_CLIENT'],
  [api.SpanKind.PRODUCER, 'SPAN_KIND_PRODUCER'],
  [api.SpanKind.CONSUMER, 'SPAN_KIND_CONSUMER'],
];
const KIND_NAME = new Map(SPAN_KINDS);
const STATUS_NAME = {
  [api.SpanStatusCode.UNSET]: 'STATUS_CODE_UNSET',
  [api.SpanStatusCode.OK]: 'STATUS_CODE_OK',
  [api.SpanStatusCode.ERROR]: 'STATUS_CODE_ERROR',
};

// Splits n items over k groups as evenly as possible; every group gets at least one.
function spread(n, k) {
  const sizes = [];
  for (let i = 0; i < k; i++) sizes.push(Math.floor(n / k) + (i < n % k ? 1 : 0));
  return sizes;
}

function chunk(items, size) {
  if (!size || size >= items.length) return [items];
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function shuffle(rng, arr) {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [arr[i], arr[j]] = [arr[j], arr[i]];
  }
  return arr;
}

async function makeTraces(opts, rng, resource) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource,
    idGenerator: makeIdGenerator(rng),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('linerate-send', '1.0.0');
  const sizes = spread(opts.count, opts.traces);
  const traceSpans = []; // per trace: its ReadableSpans
  let serial = 0;
  for (let t = 0; t < opts.traces; t++) {
    // Tree: span i's parent is a random earlier span of the same trace.
    const live = [];
    for (let i = 0; i < sizes[t]; i++) {
      const [kind] = SPAN_KINDS[(t + i) % SPAN_KINDS.length];
      const parent = i === 0 ? null : live[rng.int(live.length)];
      const ctx = parent ? api.trace.setSpan(api.ROOT_CONTEXT, parent) : api.ROOT_CONTEXT;
      const span = tracer.startSpan(`op-${t}-${i}`, {
        kind,
        attributes: {
          'test.str': `value-${serial}-${rng.hex(3)}`,
          'test.int': rng.int(1000000),
          'test.bool': rng.int(2) === 1,
          'test.trace_index': t,
        },
      }, ctx);
      if (i % 3 === 1) span.setAttribute('test.double', serial + 0.5);
      if (i % 4 === 2) span.setAttribute('test.array', ['a', `b${serial}`]);
      if (i % 5 === 4) {
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: `failure ${serial}` });
      } else if (i % 5 === 3) {
        span.setStatus({ code: api.SpanStatusCode.OK });
      }
      live.push(span);
      serial++;
    }
    for (let i = live.length - 1; i >= 0; i--) live[i].end();
    traceSpans.push(memory.getFinishedSpans().slice());
    memory.reset();
  }
  await provider.shutdown();

  const expected = traceSpans.map((spans) => ({
    trace_id: spans[0].spanContext().traceId,
    spans: spans.map((s) => ({
      span_id: s.spanContext().spanId,
      parent_span_id: s.parentSpanContext ? s.parentSpanContext.spanId : '',
      name: s.name,
      kind: KIND_NAME.get(s.kind),
      status: { code: STATUS_NAME[s.status.code], message: s.status.message || '' },
      attributes: tagAttributes(s.attributes),
    })),
  }));
  // One export() per --batch traces; spans of the traces in a call are interleaved so the
  // receiver has to split a request by trace id, not by position.
  const batches = chunk(traceSpans, opts.batch).map((group) => shuffle(rng, group.flat()));
  return { expected: { traces: expected }, batches };
}

// A pull reader: collect() hands back the SDK's ResourceMetrics without exporting anything.
class ManualReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

async function makeMetrics(opts, rng, resource) {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter('linerate-send', '1.0.0');
  const counter = meter.createCounter('linerate.test.requests', {
    description: 'test counter',
    unit: '1',
    valueType: api.ValueType.INT,
  });
  const histogram = meter.createHistogram('linerate.test.latency', {
    description: 'test histogram',
    unit: 'ms',
  });
  const gauge = meter.createGauge('linerate.test.temperature', {
    description: 'test gauge',
    unit: 'Cel',
  });
  // Each distinct attribute set is one data point.
  const [nCounter, nHist, nGauge] = spread(opts.count, 3);
  for (let i = 0; i < nCounter; i++) {
    const attrs = { 'test.route': `/r/${i}`, 'test.code': 200 + (i % 5), 'test.ok': i % 2 === 0 };
    counter.add(1 + rng.int(100), attrs);
    if (i % 2 === 0) counter.add(1 + rng.int(10), attrs);
  }
  for (let i = 0; i < nHist; i++) {
    const attrs = { 'test.route': `/h/${i}`, 'test.shard': i % 7 };
    for (let k = 0; k < 1 + (i % 3); k++) histogram.record(rng.int(100000) / 100, attrs);
  }
  for (let i = 0; i < nGauge; i++) {
    gauge.record(rng.int(5000) / 100 - 10, { 'test.sensor': `s-${i}`, 'test.zone': i % 4 });
  }
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length) throw new Error(`metric collection failed: ${errors.join(', ')}`);
  await provider.shutdown();

  const expected = [];
  const flat = []; // [scopeMetrics, metric, dataPoint] for batching
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      const points = m.dataPoints.map((dp) => {
        flat.push([sm, m, dp]);
        const value = m.dataPointType === DataPointType.HISTOGRAM
          ? { count: dp.value.count, sum: dp.value.sum }
          : dp.value;
        return { attributes: tagAttributes(dp.attributes), value };
      });
      expected.push({ name: m.descriptor.name, type: DataPointType[m.dataPointType], points });
    }
  }
  // Rebuild one ResourceMetrics per batch holding just that batch's points.
  const batches = chunk(flat, opts.batch).map((group) => {
    const scopes = new Map();
    for (const [sm, m, dp] of group) {
      if (!scopes.has(sm)) scopes.set(sm, new Map());
      const metrics = scopes.get(sm);
      if (!metrics.has(m)) metrics.set(m, { ...m, dataPoints: [] });
      metrics.get(m).dataPoints.push(dp);
    }
    return {
      resource: resourceMetrics.resource,
      scopeMetrics: [...scopes].map(([sm, metrics]) => ({
        scope: sm.scope,
        metrics: [...metrics.values()],
      })),
    };
  });
  return { expected: { metrics: expected }, batches };
}

async function makeLogs(opts, rng, resource) {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger('linerate-send', '1.0.0');
  const ids = makeIdGenerator(rng);
  const severities = [SeverityNumber.DEBUG, SeverityNumber.INFO, SeverityNumber.WARN,
    SeverityNumber.ERROR];
  for (let i = 0; i < opts.count; i++) {
    let ctx = api.ROOT_CONTEXT;
    if (i % 2 === 0) {
      ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, {
        traceId: ids.generateTraceId(),
        spanId: ids.generateSpanId(),
        traceFlags: api.TraceFlags.SAMPLED,
      });
    }
    const severityNumber = severities[i % severities.length];
    logger.emit({
      body: `log line ${i} ${rng.hex(4)}`,
      severityNumber,
      severityText: SeverityNumber[severityNumber],
      attributes: { 'test.str': `v${i}`, 'test.int': rng.int(1000), 'test.bool': i % 3 === 0 },
      context: ctx,
    });
  }
  await provider.forceFlush();
  const records = memory.getFinishedLogRecords().slice();
  await provider.shutdown();
  const expected = records.map((r) => ({
    body: tagValue(r.body),
    severity_number: r.severityNumber || 0,
    attributes: tagAttributes(r.attributes),
    trace_id: r.spanContext ? r.spanContext.traceId : '',
    span_id: r.spanContext ? r.spanContext.spanId : '',
  }));
  return { expected: { logs: expected }, batches: chunk(records, opts.batch) };
}

function exportOnce(exporter, items) {
  return new Promise((resolve) => {
    exporter.export(items, (result) => resolve(result));
  });
}

async function main() {
  const opts = parseArgs(process.argv);
  const rng = makeRng(opts.seed);
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.service });
  const make = { traces: makeTraces, metrics: makeMetrics, logs: makeLogs }[opts.signal];
  const { expected, batches } = await make(opts, rng, resource);

  const exporter = makeExporter(opts);
  const results = new Array(batches.length);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const i = next++;
      const r = await exportOnce(exporter, batches[i]);
      results[i] = {
        code: r.code === 0 ? 'SUCCESS' : 'FAILED',
        error: r.error ? String(r.error.message || r.error) : undefined,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, batches.length) }, worker));
  await exporter.shutdown();

  const ok = results.every((r) => r.code === 'SUCCESS');
  const out = {
    signal: opts.signal,
    service: opts.service,
    protocol: opts.protocol,
    gzip: opts.gzip,
    seed: opts.seed,
    count: opts.count,
    exports: batches.length,
    ok,
    results,
    ...expected,
  };
  fs.writeFileSync(opts.out, JSON.stringify(out, null, 1) + '\n');
  const failed = results.filter((r) => r.code !== 'SUCCESS');
  for (const r of failed.slice(0, 5)) process.stderr.write(`send.js: export failed: ${r.error}\n`);
  process.stderr.write(`send.js: ${opts.signal}: ${batches.length - failed.length}/`
    + `${batches.length} export() calls succeeded\n`);
  process.exitCode = ok ? 0 : 1;
}

// The building blocks are shared with the other clients (tail.js).
module.exports = {
  makeRng, makeIdGenerator, tagAttributes, makeExporter, exportOnce, KIND_NAME, STATUS_NAME,
};

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`send.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
}
