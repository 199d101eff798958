/**
 * How the sidecar process is started: the extension's launcher and the tests' and benchmarks'
 * (test/fixtures/sidecarProcess.ts) use the same flags, so what is measured is what ships.
 *
 * They make memory come back after a model is unloaded (issue #21 §4, bench/memory.bench.ts). Measured
 * on the ~100 MB fixture, 1 thread, load → chat → unload: without them RSS after each unload climbed
 * 162 → 282 MB over 8 cycles (about 11 MB a cycle), all of it anonymous memory that llama.cpp had freed.
 * - glibc's malloc moves its mmap threshold up to 32 MB after each large free, so the next KV cache,
 *   logits and compute buffers land in its heaps, which it rarely returns; and each thread that
 *   allocates gets an arena of its own, fragmented separately. A fixed threshold keeps every buffer
 *   over 128 KB in its own mapping, handed back to the OS on free, and two arenas end the spread
 *   (together: flat, about 1 MB a cycle or less). Ignored by other C libraries (macOS, Windows, musl).
 * - V8's young generation grows to 3 × 16 MB while a model's metadata is parsed and keeps that size
 *   for good; a 1 MB semi-space keeps about 28 MB less resident, with no change in tokens/s measured.
 */

/** Node flags for the sidecar process. */
export const SIDECAR_EXEC_ARGV: readonly string[] = ['--max-semi-space-size=1'];

/** glibc malloc settings for the sidecar; a value the user set in the environment wins. */
const MALLOC_ENV: Readonly<Record<string, string>> = {
    MALLOC_ARENA_MAX: '2',
    MALLOC_MMAP_THRESHOLD_: String(128 * 1024),
};

/** The sidecar's environment: `base` (the parent's), with the malloc settings it does not set itself. */
export function sidecarEnvironment(base: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
    return { ...MALLOC_ENV, ...base };
}
