#!/usr/bin/env node
// Reference vectors for dataplane/sample.c, from a second implementation of the OpenTelemetry
// Collector's probabilistic sampler (contrib processor/probabilisticsamplerprocessor and
// pkg/sampling), written without looking at the C code's structure: BigInt for the 56-bit
// arithmetic, Math.fround for Go's float32 steps, regular expressions for the tracestate grammar
// (the form pkg/sampling used before its hand-written validators, which it says are equivalent).
//
// Node 20, no dependencies. Prints one vector per line, fields separated by one space; strings are
// hex-encoded bytes ("-" for the empty string), doubles are the 16 hex digits of their IEEE bits,
// 56-bit values are hex. Line kinds:
//   H seed tid pct rate keep rnd          hash_seed: rate(pct), keep = hash < rate, rv it writes
//   T prob precision th th_encoded         ProbabilityToThresholdWithPrecision, TValue
//   P th prob                              Threshold.Probability
//   R ts ok has_rv rv has_th th            NewW3CTraceState (ok 0/1)
//   S ts th out                            set th on a kept span ("!" when ts does not parse)
//   D mode pct seed prec fail prio tid ts keep rewritten out th rnd err
//                                          the whole decision (mode 0 hash_seed, 1 proportional,
//                                          2 equalizing; prio 0 defer, 1 keep, 2 drop)
// Deterministic: a fixed-seed PRNG, no clock, no environment.
'use strict';

const MAX = 1n << 56n;
const ALL_RND = MAX - 1n;
const out = [];
const emit = (...f) => out.push(f.join(' '));

// ---- encodings -------------------------------------------------------------------------------
const dv = new DataView(new ArrayBuffer(8));
function dbits(x) {
    dv.setFloat64(0, x);
    return dv.getBigUint64(0).toString(16).padStart(16, '0');
}
const hexs = (s) => (s.length === 0 ? '-' : Buffer.from(s, 'latin1').toString('hex'));
const h56 = (v) => v.toString(16);
const tidHex = (b) => Buffer.from(b).toString('hex');

// ---- PRNG: splitmix64 ------------------------------------------------------------------------
let state = 0x243f6a8885a308d3n;
function next64() {
    state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return z ^ (z >> 31n);
}
const rint = (n) => Number(next64() % BigInt(n));
const pick = (a) => a[rint(a.length)];

// ---- hash_seed (fnvhasher.go, sampler_mode.go) -----------------------------------------------
function fnv1a(seed, bytes) {
    let h = 0x811c9dc5;
    const all = [seed & 0xff, (seed >>> 8) & 0xff, (seed >>> 16) & 0xff, (seed >>> 24) & 0xff];
    for (const b of all.concat(Array.from(bytes))) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h >>> 0;
}
function hashRate(pct) {
    let f = Math.fround(pct);
    if (!(f > 0)) return 0;
    if (f > 100) f = 100;
    return Math.trunc(Math.fround(f * Math.fround(0x4000 / 100)));
}
function hashRandomness(tid, seed) {
    const h = fnv1a(seed, tid);
    const h14 = BigInt(h & 0x3fff);
    const u18 = BigInt(h >>> 14);
    const mixed = u18 ^ (u18 << 10n);
    return ((0x3fffn - h14) << 42n) | (mixed << 14n) | h14;
}

// ---- thresholds (probability.go, threshold.go) -----------------------------------------------
function frexpExp(x) {
    dv.setFloat64(0, x);
    let e = (dv.getUint16(0) >> 4) & 0x7ff;
    if (e === 0) {
        dv.setFloat64(0, x * 2 ** 64);
        e = ((dv.getUint16(0) >> 4) & 0x7ff) - 64;
    }
    return e - 1022;
}
function roundHalfAway(x) {
    const f = Math.floor(x);
    return x - f >= 0.5 ? f + 1 : f;
}
function probToThreshold(p, prec) {
    if (prec === 0) prec = 14;
    if (!(p >= 2 ** -56 && p <= 1)) return MAX; // range error: proportional never samples
    if (p === 1) return 0n;
    const ef = frexpExp(p), er = frexpExp(1 - p);
    prec = Math.min(14, Math.max(prec + Math.trunc(ef / -4), prec + Math.trunc(er / -4)));
    let th = MAX - BigInt(roundHalfAway(p * 2 ** 56));
    const shift = BigInt(4 * (14 - prec));
    if (shift !== 0n) th = ((th + (1n << (shift - 1n))) >> shift) << shift;
    return th;
}
const thProb = (th) => Number(MAX - th) / Number(MAX);
function tvalue(th) {
    if (th === 0n) return '0';
    if (th >= MAX) return '';
    return th.toString(16).padStart(14, '0').replace(/0+$/, '');
}

// ---- tracestate (w3ctracestate.go, oteltracestate.go, common.go) -----------------------------
const KEY = /^(?:[a-z][a-z0-9_\-*/]*|[a-z0-9][a-z0-9_\-*/]*@[a-z][a-z0-9_\-*/]*)$/;
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const OTEL = /^[a-z][a-z0-9]*:[a-zA-Z0-9._-]*(?:;[a-z][a-z0-9]*:[a-zA-Z0-9._-]*)*$/;
const owsTrim = (s) => s.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');

function parseOtel(v) {
    if (v.length > 256 || !OTEL.test(v)) return null;
    const o = { rv: null, th: null, thv: 0n, extras: [] };
    for (const m of v.split(';')) {
        const i = m.indexOf(':');
        const k = m.slice(0, i), val = m.slice(i + 1);
        if (k === 'rv') {
            if (!/^[0-9a-fA-F]{14}$/.test(val)) return null;
            o.rv = val;
        } else if (k === 'th') {
            if (!/^[0-9a-fA-F]{1,14}$/.test(val)) return null;
            o.th = val;
            o.thv = BigInt('0x' + val) << BigInt(4 * (14 - val.length));
        } else {
            o.extras.push(m);
        }
    }
    return o;
}
function parseW3C(s) {
    const st = { ot: { rv: null, th: null, thv: 0n, extras: [] }, vendors: [] };
    if (s === '') return st;
    if (s.length > 1024) return null;
    const parts = s.split(',');
    if (s.endsWith(',')) parts.pop(); // Go's scanner stops when nothing follows a separator
    if (parts.length >= 32) return null;
    for (const raw of parts) {
        const m = owsTrim(raw);
        if (m === '') continue;
        const i = m.indexOf('=');
        if (i < 0) return null;
        const k = m.slice(0, i), v = m.slice(i + 1);
        if (!KEY.test(k) || !VALUE.test(v)) return null;
        if (k.length > 256) return null;
        const at = k.indexOf('@');
        if (at >= 0 && (at > 241 || k.length - at - 1 > 14)) return null;
        if (k === 'ot') {
            const o = parseOtel(v);
            if (!o) return null;
            st.ot = o;
        } else {
            st.vendors.push(m);
        }
    }
    return st;
}
function serialize(st) {
    const ot = [];
    if (st.ot.rv !== null) ot.push('rv:' + st.ot.rv);
    if (st.ot.th !== null) ot.push('th:' + st.ot.th);
    ot.push(...st.ot.extras);
    const all = [];
    if (ot.length) all.push('ot=' + ot.join(';'));
    all.push(...st.vendors);
    return all.join(',');
}
function updateTh(st, th) { // UpdateTValueWithSampling
    if (st.ot.th !== null && st.ot.thv > th) return;
    const tv = tvalue(th);
    st.ot.th = tv === '' ? null : tv;
    st.ot.thv = th;
}

// ---- the decision (sampler_mode.go makeSampler, commonShouldSampleLogic) ---------------------
const ERR = { ok: 0, ts: 1, missing: 2, inconsistent: 3, rvInUse: 4, thInUse: 5 };
function decide(mode, pct, seed, prec, failClosed, prio, tid, ts) {
    let f = Math.fround(pct);
    if (f > 100) f = 100;
    let never = f === 0;
    let ratio = f / 100;
    if (ratio < 2 ** -56) ratio = 2 ** -56;
    let fixed = 0n;
    if (!never && mode === 2) fixed = probToThreshold(ratio, prec);
    if (!never && mode === 0) {
        const rate = hashRate(f);
        if (rate === 0) never = true;
        fixed = BigInt(0x4000 - rate) << 42n;
    }
    const empty = tid.every((b) => b === 0);
    const st = parseW3C(ts);
    let carrier = st, err = st ? ERR.ok : ERR.ts, rnd = null; // null: missing randomness
    if (never) {
        rnd = ALL_RND;
    } else if (mode === 0) {
        if (!empty) rnd = hashRandomness(tid, seed);
        if (!st) carrier = null;
        else if (st.ot.rv !== null) { err = ERR.rvInUse; carrier = null; }
        else if (st.ot.th !== null) { err = ERR.thInUse; carrier = null; }
        else st.ot.rv = h56(rnd === null ? ALL_RND : rnd).padStart(14, '0');
    } else if (st) {
        if (st.ot.rv !== null) rnd = BigInt('0x' + st.ot.rv);
        else if (!empty) rnd = BigInt('0x' + tidHex(tid.slice(9)));
    }
    if (err === ERR.ok) {
        if (rnd === null) err = ERR.missing;
        else if (carrier && carrier.ot.th !== null && carrier.ot.thv > rnd) {
            carrier.ot.th = null;
            carrier.ot.thv = 0n;
            err = ERR.inconsistent;
        }
    }
    if (rnd === null) rnd = ALL_RND;
    let th;
    if (err !== ERR.ok) th = failClosed ? MAX : 0n;
    else if (never) th = MAX;
    else if (mode === 1) {
        const incoming = carrier.ot.th !== null ? thProb(carrier.ot.thv) : 1.0;
        th = probToThreshold(incoming * ratio, prec);
    } else if (mode === 2 && carrier.ot.th !== null && fixed < carrier.ot.thv) th = carrier.ot.thv;
    else th = fixed;
    if (prio === 2) th = MAX;
    if (prio === 1) th = 0n;
    const keep = th <= rnd;
    let outTs = null;
    // With percentage 0 a tracestate that fails to parse is left alone (documented difference).
    if (keep && carrier) {
        updateTh(carrier, th);
        outTs = serialize(carrier);
    }
    return { keep, outTs, th, rnd, err };
}

// ---- inputs ----------------------------------------------------------------------------------
const tids = [
    new Array(16).fill(0),
    new Array(16).fill(0xff),
    Array.from(Buffer.from('fefefefefefefefefe80000000000000', 'hex')),
    Array.from(Buffer.from('ddddddddddddddddddc0000000000000', 'hex')),
    Array.from(Buffer.from('ddddddddddddddddddb0000000000000', 'hex')),
    Array.from(Buffer.from('a0a0a0a0a0a0a0a0a0fe000000000000', 'hex')),
    Array.from(Buffer.from('111111111111111111ffffffffffffff', 'hex')),
    Array.from(Buffer.from('01000000000000000000000000000000', 'hex')),
    Array.from(Buffer.from('00000000000000000000000000000001', 'hex')),
];
while (tids.length < 209) {
    const a = next64(), b = next64();
    const bytes = [];
    for (let i = 7n; i >= 0n; i--) bytes.push(Number((a >> (8n * i)) & 0xffn));
    for (let i = 7n; i >= 0n; i--) bytes.push(Number((b >> (8n * i)) & 0xffn));
    tids.push(bytes);
}

const seeds = [0, 1, 22, 42, 4312, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff];
const pcts = [0, 1e-9, 0.001, 0.003, 0.00610, 0.0061, 0.01, 0.03, 0.1, 1, 5, 10, 13.33, 15.3, 25,
    100 / 3, 33.33, 49, 50, 60, 62, 75, 90, 99, 99.99, 99.999, 100, 100.5, 150, 200, 1e6,
    100 * 2 ** -14, 2 ** -4, 100 * (1 - 8e-7), 2 ** -50, -1, NaN, Infinity];

const rvs = ['FD70A3D70A3D71', 'fd70a3d70a3d70', 'fd70B000000000', '80000000000000', '7fffffffffffff',
    'ffffffffffffff', '00000000000000', 'c0000000000000', '40000000000000', 'abcdabcdabcdff'];
const ths = ['0', '8', 'c', 'fffc', 'fd70a', '80000000000000', 'fffffffffffff8', 'ffffffffffffff',
    '1', '99a', 'e668', 'aaac', 'F', '00000cccccccd'];
const fixedTs = [
    '', 'ot=th:8', ' ot=th:1 ', ',,,', ' , ot=th:1, , other=value ', 'ot=th:100;rv:abcdabcdabcdff',
    ' ot=th:100;rv:abcdabcdabcdff', 'ot=th:100;rv:abcdabcdabcdff ', 'ot=rv:11111111111111',
    'ot=rv:ffffffffffffff,unknown=value,other=something', 'ot=rv:FD70A3D70A3D71',
    'ot=rv:FD70A3D70A3D70', 'ot=rv:fd70B000000000', 'ot=rv:90000000000000;th:80000000000000',
    'ot=rv:c0000000000000;th:8', 'ot=rv:40000000000000;th:8', 'ot=rv:a0000000000000',
    'ot=rv:70000000000000;th:8', 'ot=th:8;rv:70000000000000', 'ot=th:fffc', 'ot=th:fffffffffffff8',
    'ot=th:c;rv:d29d6a7215ced0;pn:abc,zz=vendorcontent', 'congo=t61rcWkgMzE,ot=th:8',
    'congo=t61rcWkgMzE, ot=rv:1234567890abcd;th:fd7 ,rojo=00f067aa0ba902b7', 'ot=foo:bar',
    'ot=th:8,ot=rv:11111111111111', 'a=1,a=2,ot=th:4', 'ot=th:0', 'ot=th:0;x:;y:.-_-.',
    'ot=x1y2z3:1-2-3;y1:y_1;xy:-;th:50', 'ot=x:0X1FFF;y:.-_-.;z:', 'a= b', 'a=b c,d=e',
    '\tot=th:4\t,\t', 'tenant@sys=1,ot=th:2', 'k=' + 'v'.repeat(256), 'x=' + 'y'.repeat(1022),
    Array.from({ length: 31 }, (_, i) => `k${i}=v`).join(','),
    Array.from({ length: 30 }, (_, i) => `k${i}=v`).join(',') + ',ot=th:8',
    Array.from({ length: 31 }, (_, i) => `k${i}=v`).join(',') + ',',
    'ot=x:' + '_'.repeat(254), 'a'.repeat(256) + '=v', 't'.repeat(241) + '@s=v',
    'x@' + 's'.repeat(14) + '=v',
    // malformed
    'ot=rv:abababababababab', 'ot=th:abababababababab', 'ot=th:-1', 'ot=th:', 'ot=rv:', 'ot=',
    'ot=th:8;', 'ot=th:8;;rv:11111111111111', '-1=2', '=', 'x=' + 'y'.repeat(1023),
    Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(','), ',' + Array.from({ length: 31 }, (_, i) => `k${i}=v`).join(','),
    'k=' + 'v'.repeat(257), 'a'.repeat(257) + '=v', 't'.repeat(242) + '@s=v', 'x@' + 's'.repeat(15) + '=v',
    'ot=th:8=', 'a =b', 'A=b', 'a=b\x7f', 'a=b\x80', 'ot=TH:8', 'ot=th:g', 'ot=th:8:9', 'ot=:8',
    'ot=x:' + '_'.repeat(255), 'a=b,,c', 'a', 'a=', 'a=\x20', 'ot=th:+8', 'ot=th:0x8', 'ot=rv:_bcdabcdabcdff',
    'a@=1', '@b=1', '1a=b', '1a@b=c', 'a@1b=c', 'a@b@c=d', 'ot=th:8\n', 'ot=th:8\x00',
];
const vendors = ['congo=t61rcWkgMzE', 'rojo=00f067aa0ba902b7', 'a@b=x y', 'zz=vendorcontent', 'k=v'];
function randomTs() {
    const members = [];
    const n = rint(5);
    for (let i = 0; i < n; i++) {
        const r = rint(10);
        if (r < 4) {
            const ot = [];
            if (rint(2)) ot.push('rv:' + (rint(8) ? pick(rvs) : h56(next64() & ALL_RND).padStart(14, '0')));
            if (rint(2)) ot.push('th:' + (rint(3) ? pick(ths) : h56(next64() & ALL_RND).padStart(14, '0').slice(0, 1 + rint(14))));
            if (rint(3) === 0) ot.push(pick(['pn:abc', 'x:', 'foo:Bar.-_']));
            if (ot.length > 1 && rint(2)) ot.reverse();
            members.push('ot=' + ot.join(';'));
        } else if (r < 8) {
            members.push(pick(vendors));
        } else {
            members.push(pick(['', ' ', '\t', ' k2=v2 ']));
        }
    }
    let s = members.join(pick([',', ', ', ' ,']));
    if (s.length && rint(5) === 0) { // one mutation
        const i = rint(s.length);
        s = s.slice(0, i) + pick([',', ';', ':', '=', ' ', 'G', 'f', '0', '\t', '@', '']) + s.slice(i + 1);
    }
    return s;
}
const tsList = fixedTs.slice();
while (tsList.length < 600) tsList.push(randomTs());

// ---- vectors ---------------------------------------------------------------------------------
for (const pct of pcts.concat([0.0001, 0.00001, 99.9999, 12.345678])) {
    for (const seed of seeds) {
        for (let i = 0; i < tids.length; i += 1 + (seed % 3)) {
            const rate = hashRate(pct);
            const h = fnv1a(seed, tids[i]) & 0x3fff;
            emit('H', seed, tidHex(tids[i]), dbits(pct), rate, h < rate ? 1 : 0, h56(hashRandomness(tids[i], seed)));
        }
    }
}

const probs = [1, 0.5, 0.25, 0.1, 0.01, 0.001, 1e-4, 1e-6, 1e-9, 1e-12, 1e-15, 2 ** -56, 2 ** -55,
    2 ** -56 * 0.999, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1 - 2 ** -53, 1 - 2 ** -40, 1 - 8e-7, 0.4,
    0.6, 1 / 3, 2 / 3, 0.3333, 0.125, 0.0625, 0.75, 0, -0.5, 1.5, NaN, Infinity, 2 ** -14, 2 ** -28,
    0.5 * 0.25, 0.99 * 0.5];
for (let i = 0; i < 400; i++) {
    const r = rint(4);
    if (r === 0) probs.push(Number(next64() >> 11n) / 2 ** 53);
    else if (r === 1) probs.push(2 ** -rint(57) * (0.5 + Number(next64() >> 12n) / 2 ** 53));
    else if (r === 2) probs.push(1 - 2 ** -rint(54) * Number(next64() >> 11n) / 2 ** 53);
    else probs.push(Math.fround(Number(next64() >> 11n) / 2 ** 53 * 100) / 100);
}
for (const p of probs) {
    for (const prec of [0, 1, 2, 3, 4, 5, 6, 10, 13, 14]) {
        const th = probToThreshold(p, prec);
        emit('T', dbits(p), prec, h56(th), hexs(tvalue(th)));
    }
}
const thsP = [0n, 1n, MAX - 1n, MAX, MAX / 2n, 0xfd70a3d70a3d71n, 0x80000000000000n];
for (let i = 0; i < 300; i++) thsP.push(next64() & ALL_RND);
for (const t of thsP) emit('P', h56(t), dbits(thProb(t)));

for (const ts of tsList) {
    const st = parseW3C(ts);
    if (!st) emit('R', hexs(ts), 0, 0, 0, 0, 0);
    else {
        emit('R', hexs(ts), 1, st.ot.rv !== null ? 1 : 0, st.ot.rv !== null ? h56(BigInt('0x' + st.ot.rv)) : 0,
            st.ot.th !== null ? 1 : 0, st.ot.th !== null ? h56(st.ot.thv) : 0);
    }
    for (const th of [0n, 0x8n << 52n, 0xfd70an << 36n, MAX - 1n, MAX, next64() & ALL_RND]) {
        const s2 = parseW3C(ts);
        if (!s2) { emit('S', hexs(ts), h56(th), '!'); continue; }
        updateTh(s2, th);
        emit('S', hexs(ts), h56(th), hexs(serialize(s2)));
    }
}

const precs = [1, 3, 4, 6, 10, 14, 0];
for (let i = 0; i < 12000; i++) {
    const mode = rint(3);
    const pct = pick(pcts.slice(0, pcts.length - 3)); // the C side rejects -1, NaN, inf at init
    const seed = pick(seeds);
    const prec = mode === 0 ? 4 : pick(precs);
    const fail = rint(2);
    const prio = rint(6) === 0 ? 1 + rint(2) : 0;
    const tid = tids[rint(tids.length)];
    const ts = rint(3) === 0 ? tsList[rint(fixedTs.length)] : tsList[rint(tsList.length)];
    if (pct > 0 && pct / 100 < 2 ** -56) continue;
    const d = decide(mode, pct, seed, prec, fail === 1, prio, tid, ts);
    emit('D', mode, dbits(pct), seed, prec, fail, prio, tidHex(tid), hexs(ts), d.keep ? 1 : 0,
        d.outTs === null ? 0 : 1, d.outTs === null ? '-' : hexs(d.outTs), h56(d.th), h56(d.rnd), d.err);
}

process.stdout.write(out.join('\n') + '\n');
