/**
 * Injected hardware profiles: a JSON file named by LOCAL_AI_HARDWARE_PROFILE replaces detection, so
 * tests and demos can pretend to be a 4 GB laptop or a 24 GB workstation on any machine.
 */
import * as fs from 'node:fs';
import type { HardwareFacts } from './report';

/** The environment variable holding the path of a profile to use instead of detection. */
export const HARDWARE_PROFILE_ENV = 'LOCAL_AI_HARDWARE_PROFILE';

export interface HardwareProfile {
    /** Short name, e.g. "16 GB + 6 GB NVIDIA". */
    name: string;
    description?: string;
    facts: HardwareFacts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads and checks a profile; throws with the file name and what is wrong, never returns half a profile. */
export function readHardwareProfile(file: string): HardwareProfile {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    const problem = (what: string) => new Error(`Hardware profile ${file}: ${what}.`);
    if (!isRecord(parsed) || typeof parsed.name !== 'string' || !isRecord(parsed.facts)) throw problem('expected { name, facts }');
    const facts = parsed.facts;
    for (const key of ['os', 'cpu', 'memory', 'llama'] as const) if (!isRecord(facts[key])) throw problem(`facts.${key} is missing`);
    if (!Array.isArray(facts.gpus)) throw problem('facts.gpus must be a list');
    const memory = facts.memory as Record<string, unknown>;
    for (const key of ['totalBytes', 'freeBytes', 'swapTotalBytes', 'swapFreeBytes']) {
        if (typeof memory[key] !== 'number') throw problem(`facts.memory.${key} must be a number`);
    }
    const cpu = facts.cpu as Record<string, unknown>;
    if (typeof cpu.physicalCores !== 'number' || !Array.isArray(cpu.flags)) throw problem('facts.cpu needs physicalCores and flags');
    return parsed as unknown as HardwareProfile;
}

/** The profile named by the environment, if any. */
export function profileFromEnvironment(env: NodeJS.ProcessEnv = process.env): HardwareProfile | undefined {
    const file = env[HARDWARE_PROFILE_ENV];
    return file ? readHardwareProfile(file) : undefined;
}
