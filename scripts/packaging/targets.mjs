// The VS Code targets Local AI is packaged for, each with node-llama-cpp's prebuilt CPU package for it
// (on Apple Silicon that build includes Metal) and what its binaries must be built for.

/** @typedef {{ binaries: string, format: 'elf' | 'mach-o' | 'pe', arch: string }} Target */

/** @type {Record<string, Target>} */
export const TARGETS = {
    'win32-x64': { binaries: 'win-x64', format: 'pe', arch: 'x64' },
    'win32-arm64': { binaries: 'win-arm64', format: 'pe', arch: 'arm64' },
    'darwin-arm64': { binaries: 'mac-arm64-metal', format: 'mach-o', arch: 'arm64' },
    'darwin-x64': { binaries: 'mac-x64', format: 'mach-o', arch: 'x64' },
    'linux-x64': { binaries: 'linux-x64', format: 'elf', arch: 'x64' },
    'linux-arm64': { binaries: 'linux-arm64', format: 'elf', arch: 'arm64' },
    'linux-armhf': { binaries: 'linux-armv7l', format: 'elf', arch: 'arm' },
};

/**
 * What `--all` builds. Not linux-armhf: node-llama-cpp's linux-armv7l package (3.21.1) holds 64-bit ARM
 * (aarch64) binaries, which a 32-bit armhf VS Code cannot load, so `--target linux-armhf` stops at the
 * architecture check instead of shipping them.
 */
export const ALL_TARGETS = Object.keys(TARGETS).filter((target) => target !== 'linux-armhf');
