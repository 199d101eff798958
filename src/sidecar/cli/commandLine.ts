/**
 * The one argument parser of the `local-ai` CLI. Each subcommand declares its options and positionals
 * once, with `defineCommand`; the same declaration parses its arguments, types what its `run` receives,
 * and writes its `--help` (see help.ts). Node's `util.parseArgs` splits the command line into tokens;
 * the checks and the messages are ours, so that every subcommand reports bad usage the same way.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
    /** `boolean` is a flag; the others take a value, and `number`/`integer` check it. */
    type: 'boolean' | 'string' | 'number' | 'integer';
    /** The value's placeholder in the help (`ID|PATH`); value options only. */
    value?: string;
    /** The help line; a '\n' continues it under the descriptions' column. */
    description: string;
    /** The smallest number accepted; default: any. */
    min?: number;
    /** The largest number accepted; default: any. */
    max?: number;
    /** How the help writes `max` when it depends on the machine (`4 × logical CPUs`); default: the number. */
    maxLabel?: string;
    /** The values accepted; default: any. */
    choices?: readonly string[];
    /** The message when the option is missing; default: the option is optional. */
    required?: string;
    /** Shown in the usage line before `[options]`, for an option nearly every call gives. Default false. */
    inUsage?: boolean;
}

export interface ChoiceSpec {
    name: string;
    /** What follows the name in the help list (`--model M [--quant Q]`); default nothing. */
    synopsis?: string;
    summary: string;
}

export interface PositionalSpec {
    /** The key in `positionals`, and the word in messages ("unknown action 'x'"). */
    name: string;
    /** How the usage line shows it; default `<name>`. */
    label?: string;
    /** Takes every remaining positional. Default false. */
    variadic?: boolean;
    /** The message when it is missing; default: it is optional. */
    required?: string;
    /** The values accepted, listed in the help under the usage line. Default: any. */
    choices?: readonly ChoiceSpec[];
    /** Where the choices' summaries start in that list (the width of its first column). */
    choiceColumn?: number;
    /** Left out of the usage line: a shortcut the help does not teach. Default false. */
    hidden?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs, P extends readonly PositionalSpec[] = readonly PositionalSpec[]> {
    /** The subcommand (`local-ai <name>`), also the prefix of its messages. */
    name: string;
    /** One line for `local-ai --help`. */
    summary: string;
    positionals?: P;
    /** In the order the help lists them. `--help`/`-h` is implicit. */
    options: O;
    /** Prose after the usage line. */
    description?: string;
    /** Prose at the end of the help. */
    footer?: string;
    /**
     * Where the descriptions start in the help's "Options:" block (the width of its first column).
     * Without it the help has no such block and the usage line names every option instead.
     */
    optionColumn?: number;
    /** When this option is given, another command (with its own options and help) takes the whole command line. */
    handOver?: { option: keyof O & string; to: CliCommand };
}

type OptionValue<T extends OptionSpec> = T['type'] extends 'boolean'
    ? boolean
    : (T['type'] extends 'string' ? string : number) | (T extends { required: string } ? never : undefined);

type PositionalValue<T extends PositionalSpec> = T extends { variadic: true }
    ? string[]
    : (T extends { choices: readonly { name: infer N extends string }[] } ? N : string) | (T extends { required: string } ? never : undefined);

/** What a command's `run` receives: every option by name (flags default to false), every positional by name. */
export interface CommandLine<O extends OptionSpecs, P extends readonly PositionalSpec[]> {
    values: { -readonly [K in keyof O]: OptionValue<O[K]> };
    positionals: { -readonly [T in P[number] as T['name']]: PositionalValue<T> };
}

export interface CliCommand {
    readonly spec: CommandSpec;
    /** Runs the parsed command line and returns the exit code. A `UsageError` thrown here is reported like a parse error. */
    run(commandLine: CommandLine<OptionSpecs, readonly PositionalSpec[]>): Promise<number>;
}

/** Bad usage: the CLI prints the message and the command's help on stderr and exits with 2. */
export class UsageError extends Error {}

export function defineCommand<const O extends OptionSpecs, const P extends readonly PositionalSpec[] = []>(
    spec: CommandSpec<O, P>,
    run: (commandLine: CommandLine<O, P>) => Promise<number>,
): CliCommand {
    return { spec: spec as unknown as CommandSpec, run: run as unknown as CliCommand['run'] };
}

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];
type OptionToken = Extract<Token, { kind: 'option' }>;

/** Splits the arguments without judging them: unknown options and missing values come back as tokens too. */
function tokenize(spec: CommandSpec, args: string[]): Token[] {
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
    for (const [name, option] of Object.entries(spec.options)) options[name] = { type: option.type === 'boolean' ? 'boolean' : 'string' };
    return parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true }).tokens ?? [];
}

/** The command that answers these arguments: `command`, or the one it hands over to. */
export function commandFor(command: CliCommand, args: string[]): CliCommand {
    const handOver = command.spec.handOver;
    if (!handOver) return command;
    const given = tokenize(command.spec, args).some((token) => token.kind === 'option' && token.name === handOver.option);
    return given ? commandFor(handOver.to, args) : command;
}

/** `0 to 2`, `1 or more`, `at most 10`; undefined for an option without bounds. */
export function rangeText(option: OptionSpec, forHelp = false): string | undefined {
    const max = option.max === undefined ? undefined : forHelp && option.maxLabel ? option.maxLabel : String(option.max);
    if (option.min !== undefined && max !== undefined) return `${option.min} to ${max}`;
    if (option.min !== undefined) return `${option.min} or more`;
    if (max !== undefined) return `at most ${max}`;
    return undefined;
}

/** A number that reads as one (`-1`, `.5`), which a value option takes even after a space, as it does after `=`. */
const NUMBER = /^-(\d|\.\d)/;

function optionValue(token: OptionToken, option: OptionSpec): string | number | boolean {
    if (option.type === 'boolean') {
        if (token.value !== undefined) throw new UsageError(`${token.rawName} does not take a value.`);
        return true;
    }
    const raw = token.value;
    if (raw === undefined) throw new UsageError(`${token.rawName} needs a value.`);
    const numeric = option.type === 'number' || option.type === 'integer';
    // `--model --force` is more often a forgotten value than a name starting with '-', as util.parseArgs judges too;
    // a number option given `-1` got its value, and its range decides, exactly as for `--x=-1`.
    if (!token.inlineValue && raw.startsWith('-') && !(numeric && NUMBER.test(raw)))
        throw new UsageError(`${token.rawName} needs a value (write ${token.rawName}=${raw} if "${raw}" is the value).`);
    if (option.choices && !option.choices.includes(raw)) throw new UsageError(`${token.rawName} must be one of ${option.choices.join(', ')}.`);
    if (!numeric) return raw;
    const parsed = raw.trim() === '' ? NaN : Number(raw);
    const whole = option.type === 'integer';
    const inRange = parsed >= (option.min ?? -Infinity) && parsed <= (option.max ?? Infinity);
    if (Number.isFinite(parsed) && (!whole || Number.isInteger(parsed)) && inRange) return parsed;
    const range = rangeText(option);
    const label = option.maxLabel && option.max !== undefined ? `: ${option.maxLabel}` : '';
    throw new UsageError(`${token.rawName} needs ${whole ? 'a whole number' : 'a number'}${range ? ` (${range}${label})` : ''}, got "${raw}".`);
}

/**
 * Parses `args` as `spec` declares them; 'help' when `--help` or `-h` is among them.
 * Throws a `UsageError` for an unknown option, a missing or malformed value, an unexpected, unknown or missing positional.
 */
export function parseCommandLine<O extends OptionSpecs, P extends readonly PositionalSpec[]>(
    spec: CommandSpec<O, P>,
    args: string[],
): CommandLine<O, P> | 'help' {
    const generic = spec as unknown as CommandSpec;
    const tokens = tokenize(generic, args);
    if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) return 'help';

    const values: Record<string, string | number | boolean | undefined> = {};
    for (const [name, option] of Object.entries(generic.options)) values[name] = option.type === 'boolean' ? false : undefined;
    const given: string[] = [];
    for (const token of tokens) {
        if (token.kind === 'positional') given.push(token.value);
        if (token.kind !== 'option') continue;
        const option = Object.hasOwn(generic.options, token.name) ? generic.options[token.name] : undefined;
        if (!option) throw new UsageError(`unknown option ${token.rawName}.`);
        values[token.name] = optionValue(token, option);
    }

    const positionals: Record<string, string | string[] | undefined> = {};
    for (const positional of generic.positionals ?? []) {
        if (positional.variadic) {
            positionals[positional.name] = given.splice(0);
            continue;
        }
        const value = given.shift();
        if (value !== undefined && positional.choices && !positional.choices.some((choice) => choice.name === value)) {
            throw new UsageError(`unknown ${positional.name} '${value}'.`);
        }
        positionals[positional.name] = value;
    }
    if (given.length > 0) throw new UsageError(`unexpected argument '${given[0]}'.`);

    for (const [name, option] of Object.entries(generic.options)) {
        if (option.required && values[name] === undefined) throw new UsageError(option.required);
    }
    for (const positional of generic.positionals ?? []) {
        const value = positionals[positional.name];
        const blank = (Array.isArray(value) ? value.join('') : (value ?? '')).trim() === '';
        if (positional.required && blank) throw new UsageError(positional.required);
    }
    return { values, positionals } as unknown as CommandLine<O, P>;
}
