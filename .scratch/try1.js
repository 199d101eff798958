"use strict";
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// test/fixtures/gguf/model.ts
var crypto = __toESM(require("node:crypto"));
var fs2 = __toESM(require("node:fs"));
var path = __toESM(require("node:path"));

// test/fixtures/gguf/tokenizer.ts
var chatMlTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
var specialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
var corpus = `
The quick brown fox jumps over the lazy dog. A local assistant runs on your own machine and keeps your code private.
Hello, world! This is a test of the tokenizer. It should split words into pieces that the model has seen before.
Write a function that returns the sum of two numbers. The function takes two arguments and returns their sum.
Explain what this code does, then suggest a better name for the variable. Thanks for the help with my project.
In the beginning there was nothing but the command line, and then there were editors, and then there were models.
const value = await fetch(url); if (value === undefined) { return null; } for (let i = 0; i < 10; i++) { print(i); }
We measure, we do not guess. Tokens per second, time to first token, and memory are the numbers that matter here.
`;
function byteToSymbol() {
  const printable = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const symbols = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    symbols[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return symbols;
}
var preTokenizer = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
function learnMerges(maxMerges, symbols) {
  const wordCounts = /* @__PURE__ */ new Map();
  for (const word of corpus.match(preTokenizer) ?? []) {
    const mapped = [...Buffer.from(word, "utf8")].map((b) => symbols[b]).join("\0");
    wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1);
  }
  let words = [...wordCounts].map(([word, count]) => ({ parts: word.split("\0"), count }));
  const merges = [];
  while (merges.length < maxMerges) {
    const pairCounts = /* @__PURE__ */ new Map();
    for (const { parts, count } of words) {
      for (let i = 0; i + 1 < parts.length; i++) {
        const pair = `${parts[i]} ${parts[i + 1]}`;
        pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + count);
      }
    }
    let best;
    let bestCount = 1;
    for (const [pair, count] of pairCounts) {
      if (count > bestCount || count === bestCount && best !== void 0 && pair < best) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === void 0) {
      break;
    }
    merges.push(best);
    const [left, right] = best.split(" ");
    words = words.map(({ parts, count }) => {
      const merged = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === left && parts[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else {
          merged.push(parts[i]);
        }
      }
      return { parts: merged, count };
    });
  }
  return merges;
}
var syllables = [
  "ka",
  "lo",
  "mi",
  "ne",
  "ru",
  "sa",
  "to",
  "vi",
  "ba",
  "de",
  "fu",
  "go",
  "hi",
  "ja",
  "ke",
  "li",
  "ma",
  "no",
  "pe",
  "qu",
  "ra",
  "si",
  "tu",
  "ve",
  "wa",
  "xo",
  "ya",
  "ze",
  "an",
  "el",
  "in",
  "or"
];
function buildVocabulary(size) {
  const minimum = 256 + specialTokens.length;
  if (size < minimum) {
    throw new Error(`vocabulary needs at least ${minimum} tokens, got ${size}`);
  }
  const symbols = byteToSymbol();
  const tokens = [...symbols];
  const known = new Set(tokens);
  const room = size - minimum;
  const merges = learnMerges(Math.min(room, 600), symbols);
  for (const merge of merges) {
    const token = merge.replace(" ", "");
    if (!known.has(token)) {
      known.add(token);
      tokens.push(token);
    }
  }
  const spaceSymbol = symbols[32];
  for (let n = 0; tokens.length < size - specialTokens.length; n++) {
    let word = "";
    for (let rest = n; ; rest = Math.floor(rest / syllables.length) - 1) {
      word += syllables[rest % syllables.length];
      if (rest < syllables.length) break;
    }
    for (const candidate of [spaceSymbol + word, word]) {
      if (!known.has(candidate) && tokens.length < size - specialTokens.length) {
        known.add(candidate);
        tokens.push(candidate);
      }
    }
  }
  const firstSpecial = tokens.length;
  tokens.push(...specialTokens);
  const types = tokens.map((_, id) => id >= firstSpecial ? 3 /* Control */ : 1 /* Normal */);
  return {
    tokens,
    types,
    merges,
    bosId: firstSpecial,
    eosId: firstSpecial + 2,
    controlIds: [firstSpecial, firstSpecial + 1, firstSpecial + 2]
  };
}

// test/fixtures/gguf/writer.ts
var fs = __toESM(require("node:fs"));
var GgmlType = /* @__PURE__ */ ((GgmlType2) => {
  GgmlType2[GgmlType2["F32"] = 0] = "F32";
  GgmlType2[GgmlType2["F16"] = 1] = "F16";
  GgmlType2[GgmlType2["Q4_0"] = 2] = "Q4_0";
  GgmlType2[GgmlType2["Q8_0"] = 8] = "Q8_0";
  return GgmlType2;
})(GgmlType || {});
var gv = {
  u32: (value) => ({ type: 4 /* Uint32 */, value }),
  i32: (value) => ({ type: 5 /* Int32 */, value }),
  u64: (value) => ({ type: 10 /* Uint64 */, value }),
  f32: (value) => ({ type: 6 /* Float32 */, value }),
  bool: (value) => ({ type: 7 /* Bool */, value }),
  str: (value) => ({ type: 8 /* String */, value }),
  arr: (itemType, items) => ({ type: 9 /* Array */, itemType, items })
};
var ChunkWriter = class {
  chunks = [];
  length = 0;
  get size() {
    return this.length;
  }
  push(chunk) {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  u8(value) {
    const b = Buffer.alloc(1);
    b.writeUInt8(value);
    this.push(b);
  }
  i8(value) {
    const b = Buffer.alloc(1);
    b.writeInt8(value);
    this.push(b);
  }
  u16(value) {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value);
    this.push(b);
  }
  i16(value) {
    const b = Buffer.alloc(2);
    b.writeInt16LE(value);
    this.push(b);
  }
  u32(value) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    this.push(b);
  }
  i32(value) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.push(b);
  }
  f32(value) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.push(b);
  }
  f64(value) {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.push(b);
  }
  u64(value) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(value);
    this.push(b);
  }
  i64(value) {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(value);
    this.push(b);
  }
  string(value) {
    const bytes = Buffer.from(value, "utf8");
    this.u64(BigInt(bytes.length));
    this.push(bytes);
  }
  padTo(alignment) {
    const rest = this.length % alignment;
    if (rest !== 0) {
      this.push(Buffer.alloc(alignment - rest));
    }
  }
};
function writeScalar(out, type, value) {
  switch (type) {
    case 0 /* Uint8 */:
      return out.u8(Number(value));
    case 1 /* Int8 */:
      return out.i8(Number(value));
    case 2 /* Uint16 */:
      return out.u16(Number(value));
    case 3 /* Int16 */:
      return out.i16(Number(value));
    case 4 /* Uint32 */:
      return out.u32(Number(value));
    case 5 /* Int32 */:
      return out.i32(Number(value));
    case 6 /* Float32 */:
      return out.f32(Number(value));
    case 7 /* Bool */:
      return out.u8(value ? 1 : 0);
    case 8 /* String */:
      return out.string(String(value));
    case 10 /* Uint64 */:
      return out.u64(BigInt(value));
    case 11 /* Int64 */:
      return out.i64(BigInt(value));
    case 12 /* Float64 */:
      return out.f64(Number(value));
  }
}
function writeValue(out, value) {
  out.u32(value.typeTag ?? value.type);
  if (value.type !== 9 /* Array */) {
    writeScalar(out, value.type, value.value);
    return;
  }
  out.u32(value.itemTypeTag ?? value.itemType);
  out.u64(value.countOverride ?? BigInt(value.items.length));
  for (const item of value.items) {
    writeScalar(out, value.itemType, item);
  }
}
function alignUp(value, alignment) {
  return Math.ceil(value / alignment) * alignment;
}
function encodeGguf(spec) {
  const alignment = spec.alignment ?? 32;
  const out = new ChunkWriter();
  out.push(spec.magic ?? Buffer.from("GGUF", "ascii"));
  out.u32(spec.version ?? 3);
  out.u64(spec.tensorCountOverride ?? BigInt(spec.tensors.length));
  out.u64(spec.kvCountOverride ?? BigInt(spec.metadata.length));
  for (const { key, value } of spec.metadata) {
    out.string(key);
    writeValue(out, value);
  }
  let dataOffset = 0;
  for (const tensor of spec.tensors) {
    out.string(tensor.name);
    out.u32(tensor.nDimsOverride ?? tensor.dims.length);
    for (const dim of tensor.dims) {
      out.u64(BigInt(dim));
    }
    out.u32(tensor.type);
    out.u64(tensor.offsetOverride ?? BigInt(dataOffset));
    dataOffset = alignUp(dataOffset + tensor.data.length, alignment);
  }
  out.padTo(alignment);
  for (const tensor of spec.tensors) {
    out.push(tensor.data);
    out.padTo(alignment);
  }
  return out.chunks;
}
function writeGgufFile(filePath, spec) {
  const tempPath = `${filePath}.${process.pid}.tmp`;
  const fd = fs.openSync(tempPath, "w");
  try {
    for (const chunk of encodeGguf(spec)) {
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tempPath, filePath);
}

// test/fixtures/gguf/tensorData.ts
var blockSize = 32;
var SeededRandom = class {
  state;
  constructor(seed) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next() {
    this.state = this.state + 1831565813 >>> 0;
    let t = this.state;
    t = Math.imul(t ^ t >>> 15, t | 1);
    t ^= t + Math.imul(t ^ t >>> 7, t | 61);
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  }
  /** Fills `count` values uniform in [-a, a] with a = std * sqrt(3), so their standard deviation is `std`. */
  weights(count, std) {
    const a = std * Math.sqrt(3);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      values[i] = (this.next() * 2 - 1) * a;
    }
    return values;
  }
};
var float32 = new Float32Array(1);
var uint32 = new Uint32Array(float32.buffer);
function toHalf(value) {
  float32[0] = value;
  const x = uint32[0];
  const sign = x >>> 16 & 32768;
  const exponent = x >>> 23 & 255;
  let mantissa = x & 8388607;
  if (exponent === 255) {
    return sign | 31744 | (mantissa ? 512 : 0);
  }
  let e = exponent - 127 + 15;
  if (e >= 31) {
    return sign | 31744;
  }
  if (e <= 0) {
    if (e < -10) {
      return sign;
    }
    mantissa |= 8388608;
    const shift = 14 - e;
    let half2 = mantissa >>> shift;
    const rest2 = mantissa & (1 << shift) - 1;
    const halfway = 1 << shift - 1;
    if (rest2 > halfway || rest2 === halfway && half2 & 1) {
      half2++;
    }
    return sign | half2;
  }
  let half = e << 10 | mantissa >>> 13;
  const rest = mantissa & 8191;
  if (rest > 4096 || rest === 4096 && half & 1) {
    half++;
  }
  e = half >>> 10;
  return sign | (e >= 31 ? 31744 : half);
}
function tensorByteSize(type, count) {
  switch (type) {
    case 0 /* F32 */:
      return count * 4;
    case 1 /* F16 */:
      return count * 2;
    case 8 /* Q8_0 */:
      return count / blockSize * 34;
    case 2 /* Q4_0 */:
      return count / blockSize * 18;
  }
}
function encodeTensor(type, values) {
  if (type !== 0 /* F32 */ && type !== 1 /* F16 */ && values.length % blockSize !== 0) {
    throw new Error(`${GgmlType[type]} needs a multiple of ${blockSize} values, got ${values.length}`);
  }
  const out = Buffer.alloc(tensorByteSize(type, values.length));
  switch (type) {
    case 0 /* F32 */:
      Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(out);
      break;
    case 1 /* F16 */:
      for (let i = 0; i < values.length; i++) {
        out.writeUInt16LE(toHalf(values[i]), i * 2);
      }
      break;
    case 8 /* Q8_0 */:
      quantizeQ8_0(values, out);
      break;
    case 2 /* Q4_0 */:
      quantizeQ4_0(values, out);
      break;
  }
  return out;
}
function quantizeQ8_0(values, out) {
  for (let block = 0; block < values.length / blockSize; block++) {
    const base = block * blockSize;
    let amax = 0;
    for (let j = 0; j < blockSize; j++) {
      amax = Math.max(amax, Math.abs(values[base + j]));
    }
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    const at = block * 34;
    out.writeUInt16LE(toHalf(d), at);
    for (let j = 0; j < blockSize; j++) {
      out.writeInt8(Math.round(values[base + j] * id), at + 2 + j);
    }
  }
}
function quantizeQ4_0(values, out) {
  for (let block = 0; block < values.length / blockSize; block++) {
    const base = block * blockSize;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < blockSize; j++) {
      const v = values[base + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    const at = block * 18;
    out.writeUInt16LE(toHalf(d), at);
    for (let j = 0; j < blockSize / 2; j++) {
      const low = Math.min(15, Math.trunc(values[base + j] * id + 8.5));
      const high = Math.min(15, Math.trunc(values[base + j + blockSize / 2] * id + 8.5));
      out.writeUInt8(low | high << 4, at + 2 + j);
    }
  }
}

// test/fixtures/gguf/model.ts
var tinyModel = { name: "tiny", nLayer: 2, nEmbd: 128, nHead: 4, nHeadKv: 2, nFf: 256, nVocab: 2048, quant: "F32" };
var generatorVersion = 1;
var fileTypes = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };
var ggmlTypes = { F32: 0 /* F32 */, F16: 1 /* F16 */, Q4_0: 2 /* Q4_0 */, Q8_0: 8 /* Q8_0 */ };
function resolveParams(params) {
  const nEmbd = params.nEmbd ?? 64;
  const nHead = params.nHead ?? 4;
  const resolved = {
    name: params.name ?? "fixture",
    nLayer: params.nLayer ?? 2,
    nEmbd,
    nHead,
    nHeadKv: params.nHeadKv ?? nHead,
    nFf: params.nFf ?? nEmbd * 4,
    nVocab: params.nVocab ?? 1024,
    quant: params.quant ?? "F32",
    contextLength: params.contextLength ?? 4096,
    seed: params.seed ?? 1,
    chatTemplate: params.chatTemplate === void 0 ? chatMlTemplate : params.chatTemplate,
    suppressControlTokens: params.suppressControlTokens ?? true
  };
  if (nEmbd % nHead !== 0 || nHead % resolved.nHeadKv !== 0) {
    throw new Error(`nEmbd (${nEmbd}) must divide by nHead (${nHead}) and nHead by nHeadKv (${resolved.nHeadKv})`);
  }
  if (resolved.quant !== "F32" && resolved.quant !== "F16" && (nEmbd % 32 !== 0 || resolved.nFf % 32 !== 0)) {
    throw new Error(`${resolved.quant} needs nEmbd and nFf to be multiples of 32`);
  }
  return resolved;
}
function buildFixtureModelSpec(params = {}) {
  const p = resolveParams(params);
  const vocab = buildVocabulary(p.nVocab);
  const random = new SeededRandom(p.seed);
  const headDim = p.nEmbd / p.nHead;
  const kvDim = headDim * p.nHeadKv;
  const weightType = ggmlTypes[p.quant];
  const std = 0.02;
  const tensors = [];
  const matrix = (name, cols, rows, values = random.weights(cols * rows, std)) => {
    tensors.push({ name, dims: [cols, rows], type: weightType, data: encodeTensor(weightType, values) });
  };
  const norm = (name) => {
    tensors.push({ name, dims: [p.nEmbd], type: 0 /* F32 */, data: encodeTensor(0 /* F32 */, new Float32Array(p.nEmbd).fill(1)) });
  };
  const embeddings = random.weights(p.nEmbd * p.nVocab, std);
  const output = random.weights(p.nEmbd * p.nVocab, std);
  if (p.suppressControlTokens) {
    for (let token = 0; token < p.nVocab; token++) {
      embeddings[token * p.nEmbd] = 1;
      output[token * p.nEmbd] = 0;
    }
    for (const id of vocab.controlIds) {
      output[id * p.nEmbd] = -4;
    }
  }
  matrix("token_embd.weight", p.nEmbd, p.nVocab, embeddings);
  for (let layer = 0; layer < p.nLayer; layer++) {
    const blk = `blk.${layer}`;
    norm(`${blk}.attn_norm.weight`);
    matrix(`${blk}.attn_q.weight`, p.nEmbd, p.nEmbd);
    matrix(`${blk}.attn_k.weight`, p.nEmbd, kvDim);
    matrix(`${blk}.attn_v.weight`, p.nEmbd, kvDim);
    matrix(`${blk}.attn_output.weight`, p.nEmbd, p.nEmbd);
    norm(`${blk}.ffn_norm.weight`);
    matrix(`${blk}.ffn_gate.weight`, p.nEmbd, p.nFf);
    matrix(`${blk}.ffn_up.weight`, p.nEmbd, p.nFf);
    matrix(`${blk}.ffn_down.weight`, p.nFf, p.nEmbd);
  }
  norm("output_norm.weight");
  matrix("output.weight", p.nEmbd, p.nVocab, output);
  const metadata = [
    { key: "general.architecture", value: gv.str("llama") },
    { key: "general.name", value: gv.str(p.name) },
    { key: "general.file_type", value: gv.u32(fileTypes[p.quant]) },
    { key: "general.alignment", value: gv.u32(32) },
    { key: "llama.context_length", value: gv.u32(p.contextLength) },
    { key: "llama.embedding_length", value: gv.u32(p.nEmbd) },
    { key: "llama.block_count", value: gv.u32(p.nLayer) },
    { key: "llama.feed_forward_length", value: gv.u32(p.nFf) },
    { key: "llama.attention.head_count", value: gv.u32(p.nHead) },
    { key: "llama.attention.head_count_kv", value: gv.u32(p.nHeadKv) },
    { key: "llama.attention.layer_norm_rms_epsilon", value: gv.f32(1e-5) },
    { key: "llama.rope.dimension_count", value: gv.u32(headDim) },
    { key: "llama.rope.freq_base", value: gv.f32(1e4) },
    { key: "llama.vocab_size", value: gv.u32(p.nVocab) },
    { key: "tokenizer.ggml.model", value: gv.str("gpt2") },
    { key: "tokenizer.ggml.pre", value: gv.str("gpt-2") },
    { key: "tokenizer.ggml.tokens", value: gv.arr(8 /* String */, vocab.tokens) },
    { key: "tokenizer.ggml.token_type", value: gv.arr(5 /* Int32 */, vocab.types) },
    { key: "tokenizer.ggml.merges", value: gv.arr(8 /* String */, vocab.merges) },
    { key: "tokenizer.ggml.bos_token_id", value: gv.u32(vocab.bosId) },
    { key: "tokenizer.ggml.eos_token_id", value: gv.u32(vocab.eosId) },
    { key: "tokenizer.ggml.padding_token_id", value: gv.u32(vocab.bosId) },
    { key: "tokenizer.ggml.add_bos_token", value: gv.bool(false) }
  ];
  if (p.chatTemplate !== null) {
    metadata.push({ key: "tokenizer.chat_template", value: gv.str(p.chatTemplate) });
  }
  return { version: 3, alignment: 32, metadata, tensors };
}
function cacheKey(params) {
  const p = resolveParams(params);
  return crypto.createHash("sha256").update(JSON.stringify({ generatorVersion, ...p })).digest("hex").slice(0, 12);
}
function fixtureModelPath(dir, params = {}) {
  return path.join(dir, `${resolveParams(params).name}-${cacheKey(params)}.gguf`);
}
function ensureFixtureModel(dir, params = {}) {
  const filePath = fixtureModelPath(dir, params);
  if (!fs2.existsSync(filePath)) {
    fs2.mkdirSync(dir, { recursive: true });
    writeGgufFile(filePath, buildFixtureModelSpec(params));
  }
  return filePath;
}

// .scratch/try1.ts
var load = new Function("s", "return import(s)");
async function main() {
  const { getLlama, LlamaChatSession } = await load("node-llama-cpp");
  let t = Date.now();
  const p = ensureFixtureModel("/tmp/fx", tinyModel);
  console.log("write", Date.now() - t, p);
  const llama = await getLlama({ gpu: false, build: "never" });
  console.log("cpuMathCores", llama.cpuMathCores);
  t = Date.now();
  const model = await llama.loadModel({ modelPath: p });
  console.log("load", Date.now() - t);
  const ctx = await model.createContext({ contextSize: 512, threads: 2 });
  const s = new LlamaChatSession({ contextSequence: ctx.getSequence() });
  console.log("wrapper", s.chatWrapper.wrapperName);
  t = Date.now();
  let n = 0;
  const r = await s.prompt("Hello there, how are you?", { maxTokens: 20, onToken: (tk) => {
    n += tk.length;
  } });
  console.log("gen", Date.now() - t, n, JSON.stringify(r));
  const text = "Hello, world! \xDCn\xEFc\xF6d\xE9 \u{1F642} tabs	and\nnewlines";
  const toks = model.tokenize(text);
  console.log(toks.length, JSON.stringify(model.detokenize(toks)) === JSON.stringify(text));
}
if (process.argv[2] !== "timing") main();
async function timing() {
  const { getLlama, LlamaChatSession } = await load("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never" });
  const model = await llama.loadModel({ modelPath: "/tmp/fx/tiny-7fa01a8560d8.gguf" });
  for (const threads of [1, 2, 4]) {
    const ctx = await model.createContext({ contextSize: 512, threads });
    const s = new LlamaChatSession({ contextSequence: ctx.getSequence() });
    for (let i = 0; i < 2; i++) {
      const t = Date.now();
      let first = 0;
      await s.prompt("Hello there, how are you?", { maxTokens: 100, temperature: 0.8, onTextChunk: () => {
        first ||= Date.now() - t;
      } });
      console.log("threads", threads, "run", i, "ms", Date.now() - t, "ttft", first);
    }
    await ctx.dispose();
  }
}
if (process.argv[2] === "timing") timing();
