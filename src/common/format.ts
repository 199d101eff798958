/**
 * How sizes and durations read everywhere a user sees them: the tree, the status bar, error
 * messages, the hardware report and the CLI. Sizes are binary (1 GB = 1024³ bytes), as the
 * memory figures of the operating system and of llama.cpp are.
 */

const GB = 1024 ** 3;
const MB = 1024 ** 2;

/** `6.0 GB`, `38 MB`, `512 KB`, `300 bytes`. */
export function formatBytes(bytes: number): string {
    if (bytes >= GB) return `${(bytes / GB).toFixed(1)} GB`;
    if (bytes >= MB) return `${Math.round(bytes / MB)} MB`;
    if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${Math.max(0, Math.round(bytes))} bytes`;
}

/** `1m20s`, `45s`, `2h05m`: short enough for the status bar. */
export function formatDuration(seconds: number): string {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A name read from the hub, a store file or the disk, made safe to print or show: every control character
 * (C0, DEL, C1 and the Unicode line separators: newlines and the escape sequences of terminals) becomes `?`, so a file name
 * cannot start a line of its own ("Installed /etc/passwd") or recolour a terminal.
 */
export function printable(name: string): string {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}
