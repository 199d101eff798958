/** One row of the command table (commands/index.ts registers them all). */
export interface CommandRow {
    /** `localAi.*`, as declared in package.json. */
    id: string;
    run: (...args: unknown[]) => unknown;
}
