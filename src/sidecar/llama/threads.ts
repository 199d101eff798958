/**
 * Threads for generation from the core counts: one per physical (math) core, and one left free when that
 * would take every hardware thread (see autoThreads in autoConfig.ts for the measurements behind it).
 * Pure, so the engine can use it without a hardware report.
 */
export function threadsForCores(cores: { physicalCores: number; mathCores: number; logicalCores: number }): number {
    const { physicalCores, mathCores, logicalCores } = cores;
    const physical = physicalCores > 0 ? physicalCores : logicalCores;
    const math = mathCores > 0 ? mathCores : physical;
    const threads = Math.min(math, physical);
    return Math.max(1, logicalCores > 0 && threads >= logicalCores ? logicalCores - 1 : threads);
}
