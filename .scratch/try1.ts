import { ensureFixtureModel, tinyModel } from '/work/main/test/fixtures/gguf/model';
const load = new Function('s', 'return import(s)') as (s: string) => Promise<typeof import('node-llama-cpp')>;
async function main() { const { getLlama, LlamaChatSession } = await load('node-llama-cpp');
  let t = Date.now();
  const p = ensureFixtureModel('/tmp/fx', tinyModel);
  console.log('write', Date.now() - t, p);
  const llama = await getLlama({ gpu: false, build: 'never' } as any);
  console.log('cpuMathCores', llama.cpuMathCores);
  t = Date.now();
  const model = await llama.loadModel({ modelPath: p });
  console.log('load', Date.now() - t);
  const ctx = await model.createContext({ contextSize: 512, threads: 2 });
  const s = new LlamaChatSession({ contextSequence: ctx.getSequence() });
  console.log('wrapper', s.chatWrapper.wrapperName);
  t = Date.now();
  let n = 0;
  const r = await s.prompt('Hello there, how are you?', { maxTokens: 20, onToken: (tk) => { n += tk.length; } });
  console.log('gen', Date.now() - t, n, JSON.stringify(r));
  const text = 'Hello, world! Ünïcödé 🙂 tabs\tand\nnewlines';
  const toks = model.tokenize(text);
  console.log(toks.length, JSON.stringify(model.detokenize(toks)) === JSON.stringify(text));
}
if (process.argv[2] !== "timing") main();
async function timing() {
  const { getLlama, LlamaChatSession } = await load('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never' } as any);
  const model = await llama.loadModel({ modelPath: '/tmp/fx/tiny-7fa01a8560d8.gguf' });
  for (const threads of [1, 2, 4]) {
    const ctx = await model.createContext({ contextSize: 512, threads });
    const s = new LlamaChatSession({ contextSequence: ctx.getSequence() });
    for (let i = 0; i < 2; i++) {
      const t = Date.now(); let first = 0;
      await s.prompt('Hello there, how are you?', { maxTokens: 100, temperature: 0.8, onTextChunk: () => { first ||= Date.now() - t; } });
      console.log('threads', threads, 'run', i, 'ms', Date.now() - t, 'ttft', first);
    }
    await ctx.dispose();
  }
}
if (process.argv[2] === 'timing') timing();
