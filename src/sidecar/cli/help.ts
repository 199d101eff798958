/** The `--help` page of a subcommand, written from the same declaration that parses its arguments. */
import { rangeText, type CommandSpec, type OptionSpec } from './commandLine';

/**
 * Two aligned columns, indented by two spaces: `width` is the first column's width. A label without
 * room for two spaces after it puts its text on the next line; a '\n' in a text continues it under the second column.
 */
export function formatColumns(rows: [label: string, text: string][], width: number): string {
    const indent = ' '.repeat(width + 2);
    return rows
        .map(([label, text]) => {
            const body = text.split('\n').join(`\n${indent}`);
            return label.length + 2 <= width ? `  ${label.padEnd(width)}${body}` : `  ${label}\n${indent}${body}`;
        })
        .join('\n');
}

function optionLabel(name: string, option: OptionSpec): string {
    return option.value ? `--${name} ${option.value}` : `--${name}`;
}

/** The words after `local-ai <name>`: positionals, then the options as the help lists them. */
function usageLine(spec: CommandSpec): string {
    const words: string[] = [];
    for (const positional of spec.positionals ?? []) {
        if (positional.hidden) continue;
        const choices = positional.choices?.map((choice) => choice.name).join('|');
        words.push(positional.label ?? `<${choices ?? positional.name}>`);
    }
    const options = Object.entries(spec.options);
    if (spec.optionColumn === undefined) {
        words.push(...options.map(([name, option]) => `[${optionLabel(name, option)}]`));
    } else {
        words.push(...options.filter(([, option]) => option.inUsage).map(([name, option]) => optionLabel(name, option)), '[options]');
    }
    return `Usage: local-ai ${spec.name} ${words.join(' ')}`;
}

export function formatHelp(spec: CommandSpec): string {
    const sections = [usageLine(spec)];
    if (spec.description) sections.push(spec.description);
    for (const positional of spec.positionals ?? []) {
        if (!positional.choices) continue;
        const width = positional.choiceColumn ?? 0;
        const nameWidth = Math.max(...positional.choices.map((choice) => choice.name.length));
        const rows = positional.choices.map(({ name, synopsis, summary }): [string, string] => [
            synopsis ? `${name.padEnd(nameWidth)} ${synopsis}` : name,
            summary,
        ]);
        sections.push(formatColumns(rows, width));
    }
    if (spec.optionColumn !== undefined) {
        const rows = Object.entries(spec.options).map(([name, option]): [string, string] => {
            const range = rangeText(option, true);
            return [optionLabel(name, option), range ? `${option.description} [${range}]` : option.description];
        });
        sections.push(`Options:\n${formatColumns(rows, spec.optionColumn)}`);
    }
    if (spec.footer) sections.push(spec.footer);
    return `${sections.join('\n\n')}\n`;
}
